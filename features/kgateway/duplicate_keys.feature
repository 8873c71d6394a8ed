# kgateway releases up to 2.4 hand duplicated credentials to Envoy, which rejects the whole route configuration.
@kgateway @APIKeyAuthInvalidPolicy @requires:duplicate-keys
Feature: kgateway collapses a harmless duplicate key and refuses an ambiguous one
  The same client and key in two selected Secrets is one credential. The same key under two different clients
  is ambiguous: the policy becomes `Accepted=False`, reason `Invalid`, with a message naming both clients and never
  the key, and its routes answer the 500 direct response. Removing the conflicting Secret restores the policy.

  Ported from kgateway-dev/kgateway test/e2e/features/apikeyauth/suite.go, TestAPIKeyAuthDuplicateKeyValues
  (route httpbin-route-duplicate, policy api-key-auth-policy-duplicate, selector label apikey-duplicate-test,
  steps 1 to 4).

  Background:
    Given the gateway routes "www.example.com" to httpbin
    And the following resources are applied:
      """
      apiVersion: gateway.networking.k8s.io/v1
      kind: HTTPRoute
      metadata:
        name: httpbin-route-duplicate
        namespace: kgateway-system
      spec:
        parentRefs:
          - name: http
        hostnames:
          - duplicate.example.com
        rules:
          - backendRefs:
              - name: httpbin
                port: 8000
      ---
      apiVersion: v1
      kind: Secret
      metadata:
        name: api-keys-duplicate-one
        namespace: kgateway-system
        labels:
          apikey-duplicate-test: "true"
      stringData:
        client1: dup-key-1110
      ---
      apiVersion: v1
      kind: Secret
      metadata:
        name: api-keys-duplicate-two
        namespace: kgateway-system
        labels:
          apikey-duplicate-test: "true"
      stringData:
        client1: dup-key-1110
      ---
      apiVersion: gateway.kgateway.dev/v1alpha1
      kind: TrafficPolicy
      metadata:
        name: api-key-auth-policy-duplicate
        namespace: kgateway-system
      spec:
        targetRefs:
          - group: gateway.networking.k8s.io
            kind: HTTPRoute
            name: httpbin-route-duplicate
        apiKeyAuth:
          keySources:
            - header: api-key
          secretSelector:
            matchLabels:
              apikey-duplicate-test: "true"
      """

  Scenario: The same client and key in two Secrets is one credential
    When I send a GET request to "/headers" with:
      | part   | name    | value                 |
      | host   |         | duplicate.example.com |
      | header | api-key | dup-key-1110          |
    Then the response status is 200
    And the TrafficPolicy "kgateway-system/api-key-auth-policy-duplicate" has condition Accepted=True with reason Valid
    When I send a GET request to "/headers" with:
      | part | name | value                 |
      | host |      | duplicate.example.com |
    Then the response status is 401

  Scenario: A new client in another selected Secret still lands beside the duplicate
    When the following resources are applied:
      """
      apiVersion: v1
      kind: Secret
      metadata:
        name: api-keys-duplicate-new-client
        namespace: kgateway-system
        labels:
          apikey-duplicate-test: "true"
      stringData:
        client2: dup-key-2220
      """
    And I send a GET request to "/headers" with:
      | part   | name    | value                 |
      | host   |         | duplicate.example.com |
      | header | api-key | dup-key-2220          |
    Then the response status is 200

  Scenario: The same key under another client makes the policy invalid, naming both clients but not the key
    When the following resources are applied:
      """
      apiVersion: v1
      kind: Secret
      metadata:
        name: api-keys-duplicate-conflict
        namespace: kgateway-system
        labels:
          apikey-duplicate-test: "true"
      stringData:
        client3: dup-key-1110
      """
    And I send a GET request to "/headers" with:
      | part   | name    | value                 |
      | host   |         | duplicate.example.com |
      | header | api-key | dup-key-1110          |
    Then the response status is 500
    And the response body is "invalid route configuration detected and replaced with a direct response."
    And the TrafficPolicy "kgateway-system/api-key-auth-policy-duplicate" has condition Accepted=False with reason Invalid and a message containing "client1"
    And the TrafficPolicy "kgateway-system/api-key-auth-policy-duplicate" has condition Accepted=False with reason Invalid and a message containing "client3"
    And the TrafficPolicy "kgateway-system/api-key-auth-policy-duplicate" condition message does not contain "dup-key-1110"

  Scenario: Removing the conflicting Secret restores the policy
    When the following resources are applied:
      """
      apiVersion: v1
      kind: Secret
      metadata:
        name: api-keys-duplicate-conflict
        namespace: kgateway-system
        labels:
          apikey-duplicate-test: "true"
      stringData:
        client3: dup-key-1110
      """
    And I send a GET request to "/headers" with:
      | part   | name    | value                 |
      | host   |         | duplicate.example.com |
      | header | api-key | dup-key-1110          |
    Then the response status is 500
    When the Secret "kgateway-system/api-keys-duplicate-conflict" is deleted
    And I send a GET request to "/headers" with:
      | part   | name    | value                 |
      | host   |         | duplicate.example.com |
      | header | api-key | dup-key-1110          |
    Then the response status is 200
    And the TrafficPolicy "kgateway-system/api-key-auth-policy-duplicate" has condition Accepted=True with reason Valid
    When I send a GET request to "/headers" with:
      | part | name | value                 |
      | host |      | duplicate.example.com |
    Then the response status is 401
