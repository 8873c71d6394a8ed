@agentgateway @APIKeyAuthPermissiveMode
Feature: agentgateway Permissive mode
  Permissive never rejects: no key and a wrong key are both forwarded (the wrong key untouched), and a valid
  key is still recognised and removed.

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
        client1: agw-permissive-key-0b6d
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
            mode: Permissive
            secretRef:
              name: apikey
      """

  Scenario: No key is let through
    When I send a GET request to "/headers"
    Then the response status is 200

  Scenario: A wrong key is let through with the credential kept
    When I send a GET request to "/headers" with:
      | part   | name          | value                   |
      | header | Authorization | Bearer wrong-key-000000 |
    Then the response status is 200
    And the upstream receives header "authorization" with value "Bearer wrong-key-000000"

  Scenario: A valid key is accepted and removed
    When I send a GET request to "/headers" with:
      | part   | name          | value                          |
      | header | Authorization | Bearer agw-permissive-key-0b6d |
    Then the response status is 200
    And the upstream receives no header "authorization"
