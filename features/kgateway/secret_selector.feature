@kgateway @APIKeyAuthSecretSelector
Feature: kgateway selects key Secrets by label
  `secretSelector.matchLabels` picks every Secret in the policy's namespace with those labels; each entry of
  each selected Secret is one client.

  Background:
    Given the gateway routes "www.example.com" to httpbin
    And the following resources are applied:
      """
      apiVersion: v1
      kind: Secret
      metadata:
        name: team-a
        namespace: kgateway-system
        labels:
          app: httpbin
      stringData:
        alice: key-for-alice-7d1c2a9e
      ---
      apiVersion: v1
      kind: Secret
      metadata:
        name: team-b
        namespace: kgateway-system
        labels:
          app: httpbin
      stringData:
        bob: key-for-bob-51f0b3c4
      ---
      apiVersion: v1
      kind: Secret
      metadata:
        name: unlabelled
        namespace: kgateway-system
      stringData:
        carol: key-for-carol-a93e17d2
      ---
      apiVersion: gateway.kgateway.dev/v1alpha1
      kind: TrafficPolicy
      metadata:
        name: apikey-auth
        namespace: kgateway-system
      spec:
        targetRefs:
          - group: gateway.networking.k8s.io
            kind: Gateway
            name: http
        apiKeyAuth:
          secretSelector:
            matchLabels:
              app: httpbin
      """

  Scenario Outline: A key from any selected Secret is accepted
    When I send a GET request to "/headers" with:
      | part   | name    | value  |
      | header | api-key | <key>  |
    Then the response status is 200

    Examples:
      | key                    |
      | key-for-alice-7d1c2a9e |
      | key-for-bob-51f0b3c4   |

  Scenario: A key from a Secret without the labels is rejected
    When I send a GET request to "/headers" with:
      | part   | name    | value                  |
      | header | api-key | key-for-carol-a93e17d2 |
    Then the response status is 401

  Scenario: Labelling another Secret adds its keys
    When the following resources are applied:
      """
      apiVersion: v1
      kind: Secret
      metadata:
        name: unlabelled
        namespace: kgateway-system
        labels:
          app: httpbin
      stringData:
        carol: key-for-carol-a93e17d2
      """
    And I send a GET request to "/headers" with:
      | part   | name    | value                  |
      | header | api-key | key-for-carol-a93e17d2 |
    Then the response status is 200

  Scenario: A selector that matches nothing makes the policy invalid and the route fail closed
    When the following resources are applied:
      """
      apiVersion: gateway.kgateway.dev/v1alpha1
      kind: TrafficPolicy
      metadata:
        name: apikey-auth
        namespace: kgateway-system
      spec:
        targetRefs:
          - group: gateway.networking.k8s.io
            kind: Gateway
            name: http
        apiKeyAuth:
          secretSelector:
            matchLabels:
              app: nothing-has-this-label
      """
    And I send a GET request to "/headers" with:
      | part   | name    | value                  |
      | header | api-key | key-for-alice-7d1c2a9e |
    Then the response status is 500
    And the response body is "invalid route configuration detected and replaced with a direct response."
    And the TrafficPolicy "kgateway-system/apikey-auth" has condition Accepted=False with reason Invalid and a message containing "no secrets found matching selector"
