@agentgateway @APIKeyAuthRouteOverride
Feature: A route's agentgateway policy replaces the Gateway's policy whole
  The more precise target wins: a route-level Optional policy opens a route under a Gateway-wide Strict one.

  Background:
    Given the gateway routes "www.example.com" to httpbin
    And the following resources are applied:
      """
      apiVersion: v1
      kind: Secret
      metadata:
        name: gateway-keys
        namespace: agentgateway-system
      stringData:
        gateway-client: agw-gateway-key-6a2e
      ---
      apiVersion: v1
      kind: Secret
      metadata:
        name: route-keys
        namespace: agentgateway-system
      stringData:
        route-client: agw-route-key-c39b
      ---
      apiVersion: gateway.networking.k8s.io/v1
      kind: HTTPRoute
      metadata:
        name: httpbin-public
        namespace: agentgateway-system
      spec:
        parentRefs:
          - name: agentgateway-proxy
        hostnames:
          - public.example.com
        rules:
          - backendRefs:
              - name: httpbin
                port: 8000
      ---
      apiVersion: agentgateway.dev/v1alpha1
      kind: AgentgatewayPolicy
      metadata:
        name: gateway-auth
        namespace: agentgateway-system
      spec:
        targetRefs:
          - group: gateway.networking.k8s.io
            kind: Gateway
            name: agentgateway-proxy
        traffic:
          apiKeyAuthentication:
            mode: Strict
            secretRef:
              name: gateway-keys
      ---
      apiVersion: agentgateway.dev/v1alpha1
      kind: AgentgatewayPolicy
      metadata:
        name: route-auth
        namespace: agentgateway-system
      spec:
        targetRefs:
          - group: gateway.networking.k8s.io
            kind: HTTPRoute
            name: httpbin-public
        traffic:
          apiKeyAuthentication:
            mode: Optional
            secretRef:
              name: route-keys
      """

  Scenario: The route's Optional policy lets a request without a key through
    When I send a GET request to "/headers" with:
      | part | name | value              |
      | host |      | public.example.com |
    Then the response status is 200

  Scenario: The Gateway's key is not valid on the route
    When I send a GET request to "/headers" with:
      | part   | name          | value                       |
      | host   |               | public.example.com          |
      | header | Authorization | Bearer agw-gateway-key-6a2e |
    Then the response status is 401
    And the response body is "api key authentication failure: invalid credentials"

  Scenario: Other routes keep the Gateway's Strict policy
    When I send a GET request to "/headers"
    Then the response status is 401
    And the response body is "api key authentication failure: no API Key found"
