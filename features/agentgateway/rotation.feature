@agentgateway @APIKeyAuthRotation
Feature: agentgateway follows key Secrets as they change
  Adding an entry adds a key, replacing entries revokes the old keys, and deleting the Secret leaves a Strict
  policy with no keys, so everything is rejected (fail closed).

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
        client1: agw-original-key-2b8c
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
            mode: Strict
            secretRef:
              name: apikey
      """

  Scenario: An added entry is accepted and the existing key keeps working (overlap)
    When the following resources are applied:
      """
      apiVersion: v1
      kind: Secret
      metadata:
        name: apikey
        namespace: agentgateway-system
      stringData:
        client1: agw-original-key-2b8c
        client1-next: agw-rotated-key-7d4e
      """
    And I send a GET request to "/headers" with:
      | part   | name          | value                       |
      | header | Authorization | Bearer agw-rotated-key-7d4e |
    Then the response status is 200
    When I send a GET request to "/headers" with:
      | part   | name          | value                        |
      | header | Authorization | Bearer agw-original-key-2b8c |
    Then the response status is 200

  Scenario: Replacing the Secret's entries revokes the old key
    When the following resources are applied:
      """
      apiVersion: v1
      kind: Secret
      metadata:
        name: apikey
        namespace: agentgateway-system
      stringData:
        client1: agw-replacement-key-90fa
      """
    And I send a GET request to "/headers" with:
      | part   | name          | value                        |
      | header | Authorization | Bearer agw-original-key-2b8c |
    Then the response status is 401
    And the response body is "api key authentication failure: invalid credentials"
    When I send a GET request to "/headers" with:
      | part   | name          | value                           |
      | header | Authorization | Bearer agw-replacement-key-90fa |
    Then the response status is 200

  Scenario: Deleting the Secret rejects every key
    When the Secret "agentgateway-system/apikey" is deleted
    And I send a GET request to "/headers" with:
      | part   | name          | value                        |
      | header | Authorization | Bearer agw-original-key-2b8c |
    Then the response status is 401
    And the response body is "api key authentication failure: invalid credentials"
