@kgateway @APIKeyAuthSecretSelector
Feature: kgateway follows which Secrets a selector matches
  Keys are aggregated across every Secret the selector matches, and only those: a Secret with another value of
  the label is never read, a Secret that loses the label stops providing keys, and deleting one selected Secret
  revokes only its own keys. Here the policy forwards the credential (`forwardCredential: true`).

  Ported from kgateway-dev/kgateway test/e2e/features/apikeyauth/testdata/api-key-auth-secret-selector.yaml
  (two labelled Secrets aggregated, a Secret labelled `something-else` never accepted); the relabelling and
  deletion steps follow the secret-update steps of TestAPIKeyAuthWithSecretUpdate in suite.go.

  Background:
    Given the gateway routes "www.example.com" to httpbin
    And the following resources are applied:
      """
      apiVersion: gateway.networking.k8s.io/v1
      kind: HTTPRoute
      metadata:
        name: httpbin-route-secret-selector
        namespace: kgateway-system
      spec:
        parentRefs:
          - name: http
        hostnames:
          - selector.example.com
        rules:
          - backendRefs:
              - name: httpbin
                port: 8000
      ---
      apiVersion: v1
      kind: Secret
      metadata:
        name: api-keys-selected-one
        namespace: kgateway-system
        labels:
          apikeys: selector-test
      stringData:
        client1: sel-key-1110
      ---
      apiVersion: v1
      kind: Secret
      metadata:
        name: api-keys-selected-two
        namespace: kgateway-system
        labels:
          apikeys: selector-test
      stringData:
        client2: sel-key-2220
      ---
      apiVersion: v1
      kind: Secret
      metadata:
        name: api-keys-unselected
        namespace: kgateway-system
        labels:
          apikeys: something-else
      stringData:
        client3: sel-key-3330
      ---
      apiVersion: gateway.kgateway.dev/v1alpha1
      kind: TrafficPolicy
      metadata:
        name: api-key-auth-policy-secret-selector
        namespace: kgateway-system
      spec:
        targetRefs:
          - group: gateway.networking.k8s.io
            kind: HTTPRoute
            name: httpbin-route-secret-selector
        apiKeyAuth:
          keySources:
            - header: api-key
          forwardCredential: true
          secretSelector:
            matchLabels:
              apikeys: selector-test
      """

  Scenario Outline: Keys of every selected Secret are accepted and forwarded
    When I send a GET request to "/headers" with:
      | part   | name    | value                |
      | host   |         | selector.example.com |
      | header | api-key | <key>                |
    Then the response status is 200
    And the upstream receives header "api-key" with value "<key>"

    Examples:
      | key          |
      | sel-key-1110 |
      | sel-key-2220 |

  Scenario: A Secret with another value of the label is never read
    When I send a GET request to "/headers" with:
      | part   | name    | value                |
      | host   |         | selector.example.com |
      | header | api-key | sel-key-3330         |
    Then the response status is 401

  Scenario: A Secret that loses the label stops providing keys
    When the following resources are applied:
      """
      apiVersion: v1
      kind: Secret
      metadata:
        name: api-keys-selected-two
        namespace: kgateway-system
        labels:
          apikeys: retired
      stringData:
        client2: sel-key-2220
      """
    And I send a GET request to "/headers" with:
      | part   | name    | value                |
      | host   |         | selector.example.com |
      | header | api-key | sel-key-2220         |
    Then the response status is 401
    When I send a GET request to "/headers" with:
      | part   | name    | value                |
      | host   |         | selector.example.com |
      | header | api-key | sel-key-1110         |
    Then the response status is 200

  Scenario: Deleting one selected Secret revokes only its keys
    When the Secret "kgateway-system/api-keys-selected-one" is deleted
    And I send a GET request to "/headers" with:
      | part   | name    | value                |
      | host   |         | selector.example.com |
      | header | api-key | sel-key-1110         |
    Then the response status is 401
    When I send a GET request to "/headers" with:
      | part   | name    | value                |
      | host   |         | selector.example.com |
      | header | api-key | sel-key-2220         |
    Then the response status is 200

  Scenario: Removing the label from every selected Secret makes the policy invalid and the route fail closed
    When the following resources are applied:
      """
      apiVersion: v1
      kind: Secret
      metadata:
        name: api-keys-selected-one
        namespace: kgateway-system
      stringData:
        client1: sel-key-1110
      ---
      apiVersion: v1
      kind: Secret
      metadata:
        name: api-keys-selected-two
        namespace: kgateway-system
      stringData:
        client2: sel-key-2220
      """
    And I send a GET request to "/headers" with:
      | part   | name    | value                |
      | host   |         | selector.example.com |
      | header | api-key | sel-key-1110         |
    Then the response status is 500
    And the response body is "invalid route configuration detected and replaced with a direct response."
    And the TrafficPolicy "kgateway-system/api-key-auth-policy-secret-selector" has condition Accepted=False with reason Invalid and a message containing "no secrets found matching selector"
