@kgateway @APIKeyAuthRotation
Feature: kgateway follows key Secrets as they change
  Adding an entry adds a client, replacing a Secret's entries replaces its keys, and deleting the Secret a
  policy names makes the policy invalid so its routes fail closed. Each change is expected to take effect
  within the consistency window, without restarting anything.

  Background:
    Given the gateway routes "www.example.com" to httpbin
    And the following resources are applied:
      """
      apiVersion: v1
      kind: Secret
      metadata:
        name: apikey
        namespace: kgateway-system
      stringData:
        client1: original-key-0f1e2d3c
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
        namespace: kgateway-system
      stringData:
        client1: original-key-0f1e2d3c
        client1-next: rotated-key-4b5a6978
      """
    And I send a GET request to "/headers" with:
      | part   | name    | value                |
      | header | api-key | rotated-key-4b5a6978 |
    Then the response status is 200
    When I send a GET request to "/headers" with:
      | part   | name    | value                 |
      | header | api-key | original-key-0f1e2d3c |
    Then the response status is 200

  Scenario: Replacing the Secret's entries revokes the old key
    When the following resources are applied:
      """
      apiVersion: v1
      kind: Secret
      metadata:
        name: apikey
        namespace: kgateway-system
      stringData:
        client1: replacement-key-8a9b0c1d
      """
    And I send a GET request to "/headers" with:
      | part   | name    | value                 |
      | header | api-key | original-key-0f1e2d3c |
    Then the response status is 401
    When I send a GET request to "/headers" with:
      | part   | name    | value                    |
      | header | api-key | replacement-key-8a9b0c1d |
    Then the response status is 200

  Scenario: Deleting the Secret makes the policy invalid and its routes fail closed
    When the Secret "kgateway-system/apikey" is deleted
    And I send a GET request to "/headers" with:
      | part   | name    | value                 |
      | header | api-key | original-key-0f1e2d3c |
    Then the response status is 500
    And the TrafficPolicy "kgateway-system/apikey-auth" has condition Accepted=False with reason Invalid and a message containing "not found"
