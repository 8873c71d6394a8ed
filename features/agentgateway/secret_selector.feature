@agentgateway @APIKeyAuthSecretSelector
Feature: agentgateway selects key Secrets by label
  `secretSelector.matchLabels` picks every Secret with those labels in the policy's namespace.

  Background:
    Given the gateway routes "www.example.com" to httpbin
    And the following resources are applied:
      """
      apiVersion: v1
      kind: Secret
      metadata:
        name: team-a
        namespace: agentgateway-system
        labels:
          app: httpbin
      stringData:
        alice: agw-key-for-alice-2e4f
      ---
      apiVersion: v1
      kind: Secret
      metadata:
        name: team-b
        namespace: agentgateway-system
        labels:
          app: httpbin
      stringData:
        bob: agw-key-for-bob-9a1c
      ---
      apiVersion: v1
      kind: Secret
      metadata:
        name: unlabelled
        namespace: agentgateway-system
      stringData:
        carol: agw-key-for-carol-77d0
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
            secretSelector:
              matchLabels:
                app: httpbin
      """

  Scenario Outline: A key from any selected Secret is accepted
    When I send a GET request to "/headers" with:
      | part   | name          | value        |
      | header | Authorization | Bearer <key> |
    Then the response status is 200

    Examples:
      | key                    |
      | agw-key-for-alice-2e4f |
      | agw-key-for-bob-9a1c   |

  Scenario: A key from a Secret without the labels is rejected
    When I send a GET request to "/headers" with:
      | part   | name          | value                         |
      | header | Authorization | Bearer agw-key-for-carol-77d0 |
    Then the response status is 401
    And the response body is "api key authentication failure: invalid credentials"
