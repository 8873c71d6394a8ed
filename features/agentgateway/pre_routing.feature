@agentgateway @APIKeyAuth
Feature: agentgateway API key auth in the PreRouting phase
  `traffic.phase: PreRouting` runs the policy before a route is selected; it may only target a Gateway or a
  ListenerSet. Keys are checked the same way: every request on the Gateway needs one, whatever its route.

  Ported from agentgateway/agentgateway controller/pkg/agentgateway/plugins/testdata/trafficpolicy/
  apikey-pre-routing.yaml (Gateway target, Strict, secretRef to a Secret whose `data` holds a base64 raw key;
  translated to an xDS policy of phase GATEWAY).

  Background:
    Given the gateway routes "www.example.com" to httpbin
    And the following resources are applied:
      """
      apiVersion: agentgateway.dev/v1alpha1
      kind: AgentgatewayPolicy
      metadata:
        name: apikey-pre-routing
        namespace: agentgateway-system
      spec:
        targetRefs:
          - group: gateway.networking.k8s.io
            kind: Gateway
            name: agentgateway-proxy
        traffic:
          phase: PreRouting
          apiKeyAuthentication:
            mode: Strict
            secretRef:
              name: apikey-secret
      ---
      apiVersion: v1
      kind: Secret
      metadata:
        name: apikey-secret
        namespace: agentgateway-system
      type: Opaque
      data:
        # agw-pre-key-1230
        key1: YWd3LXByZS1rZXktMTIzMA==
      """

  Scenario: A request with the key is accepted and the key removed
    When I send a GET request to "/headers" with:
      | part   | name          | value                   |
      | header | Authorization | Bearer agw-pre-key-1230 |
    Then the response status is 200
    And the upstream receives no header "authorization"
    And the AgentgatewayPolicy "agentgateway-system/apikey-pre-routing" has condition Accepted=True with reason Valid

  Scenario: A request without a key is rejected
    When I send a GET request to "/headers"
    Then the response status is 401
    And the response body is "api key authentication failure: no API Key found"
