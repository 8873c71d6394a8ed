@agentgateway @APIKeyAuthHideCredential
Feature: agentgateway removes a valid key before forwarding
  On success the credential is removed from its location; other headers are kept.

  Scenario: The Authorization header is removed, other headers are kept
    Given the gateway routes "www.example.com" to httpbin
    And the following resources are applied:
      """
      apiVersion: v1
      kind: Secret
      metadata:
        name: apikey
        namespace: agentgateway-system
      stringData:
        client1: agw-hidden-key-5c1e
      ---
      apiVersion: agentgateway.dev/v1alpha1
      kind: AgentgatewayPolicy
      metadata:
        name: apikey-auth
        namespace: agentgateway-system
      spec:
        targetRefs:
          - group: gateway.networking.k8s.io
            kind: Gateway
            name: agentgateway-proxy
        traffic:
          apiKeyAuthentication:
            secretRef:
              name: apikey
      """
    When I send a GET request to "/headers" with:
      | part   | name          | value                      |
      | header | Authorization | Bearer agw-hidden-key-5c1e |
      | header | X-Trace       | keep-me                    |
    Then the response status is 200
    And the upstream receives no header "authorization"
    And the upstream receives header "x-trace" with value "keep-me"
