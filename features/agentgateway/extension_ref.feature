@agentgateway @APIKeyAuthSectionName
Feature: agentgateway does not program an HTTPRoute that uses an ExtensionRef filter
  agentgateway resolves no ExtensionRef filter, not even one naming an AgentgatewayPolicy. Such a filter makes
  the HTTPRoute `Accepted=False` with reason `IncompatibleFilters` (`unsupported ExtensionRef: <group>/<kind>`)
  and none of its rules is programmed: its requests find no route (404), whatever key they carry, while the
  Gateway's other routes are unaffected. A policy can attach to one rule only through `sectionName`.

  From agentgateway/agentgateway controller/pkg/agentgateway/translator/conversion.go (createAgwExtensionRefFilter:
  every ExtensionRef is unsupported; the rule converts to nothing and the route to no routes) and
  crates/agentgateway/src/proxy/mod.rs (RouteNotFound answers 404), tags v1.3.1 to v1.4.1 and main.

  Background:
    Given the gateway routes "www.example.com" to httpbin
    And the following resources are applied:
      """
      apiVersion: v1
      kind: Secret
      metadata:
        name: apikey
        namespace: agentgateway-system
      stringData:
        client1: agw-extref-key-3d4e
      ---
      apiVersion: agentgateway.dev/v1alpha1
      kind: AgentgatewayPolicy
      metadata:
        name: extref-auth
        namespace: agentgateway-system
      spec:
        targetRefs:
          - group: gateway.networking.k8s.io
            kind: Gateway
            name: agentgateway-proxy
        traffic:
          apiKeyAuthentication:
            mode: Optional
            secretRef:
              name: apikey
      ---
      apiVersion: gateway.networking.k8s.io/v1
      kind: HTTPRoute
      metadata:
        name: extref-route
        namespace: agentgateway-system
      spec:
        parentRefs:
          - name: agentgateway-proxy
        hostnames:
          - extref.example.com
        rules:
          - matches:
              - path:
                  type: PathPrefix
                  value: /anything/private
            filters:
              - type: ExtensionRef
                extensionRef:
                  group: agentgateway.dev
                  kind: AgentgatewayPolicy
                  name: extref-auth
            backendRefs:
              - name: httpbin
                port: 8000
          - backendRefs:
              - name: httpbin
                port: 8000
      """

  Scenario Outline: No rule of the route is served, with or without a key
    When I send a GET request to "<path>" with:
      | part   | name          | value              |
      | host   |               | extref.example.com |
      | header | Authorization | <authorization>    |
    Then the response status is 404

    Examples:
      | path              | authorization              |
      | /anything/private | Bearer agw-extref-key-3d4e |
      | /anything/private |                            |
      | /anything/public  |                            |

  Scenario: The Gateway's other routes are served
    When I send a GET request to "/headers" with:
      | part   | name          | value                      |
      | header | Authorization | Bearer agw-extref-key-3d4e |
    Then the response status is 200
    And the upstream receives no header "authorization"
