@kgateway @APIKeyAuthRotation
Feature: kgateway follows a key Secret through deletion, re-creation and a merging apply
  The upstream e2e test deletes the Secret, creates it again with other clients, then applies a manifest whose
  `stringData` merges into the existing `data` (an apply keeps entries it does not mention): the old and new keys
  it names work together, and a key no longer present stays revoked. The merged Secret is written out in full
  here, so the scenario means the same on every target whatever its client's merge rules.

  Ported from kgateway-dev/kgateway test/e2e/features/apikeyauth/suite.go, TestAPIKeyAuthWithSecretUpdate
  (testdata api-key-auth-secret-update.yaml: client1 and client2, then client3 and client4, then client1 and
  client5 merged in).

  Background:
    Given the gateway routes "www.example.com" to httpbin
    And the following resources are applied:
      """
      apiVersion: gateway.networking.k8s.io/v1
      kind: HTTPRoute
      metadata:
        name: httpbin-route-secret-update
        namespace: kgateway-system
      spec:
        parentRefs:
          - name: http
        hostnames:
          - update.example.com
        rules:
          - matches:
              - path:
                  type: PathPrefix
                  value: /status/200
            backendRefs:
              - name: httpbin
                port: 8000
      ---
      apiVersion: v1
      kind: Secret
      metadata:
        name: api-keys-secret-update
        namespace: kgateway-system
      stringData:
        client1: update-key-1230
        client2: update-key-4560
      ---
      apiVersion: gateway.kgateway.dev/v1alpha1
      kind: TrafficPolicy
      metadata:
        name: api-key-auth-policy-secret-update
        namespace: kgateway-system
      spec:
        targetRefs:
          - group: gateway.networking.k8s.io
            kind: HTTPRoute
            name: httpbin-route-secret-update
        apiKeyAuth:
          keySources:
            - header: api-key
          secretRef:
            name: api-keys-secret-update
      """

  Scenario Outline: The initial keys work
    When I send a GET request to "/status/200" with:
      | part   | name    | value              |
      | host   |         | update.example.com |
      | header | api-key | <key>              |
    Then the response status is 200

    Examples:
      | key             |
      | update-key-1230 |
      | update-key-4560 |

  Scenario: A Secret re-created with other clients swaps the keys
    When the Secret "kgateway-system/api-keys-secret-update" is deleted
    And the following resources are applied:
      """
      apiVersion: v1
      kind: Secret
      metadata:
        name: api-keys-secret-update
        namespace: kgateway-system
      stringData:
        client3: update-key-7890
        client4: update-key-9990
      """
    And I send a GET request to "/status/200" with:
      | part   | name    | value              |
      | host   |         | update.example.com |
      | header | api-key | update-key-7890    |
    Then the response status is 200
    When I send a GET request to "/status/200" with:
      | part   | name    | value              |
      | host   |         | update.example.com |
      | header | api-key | update-key-9990    |
    Then the response status is 200
    When I send a GET request to "/status/200" with:
      | part   | name    | value              |
      | host   |         | update.example.com |
      | header | api-key | update-key-1230    |
    Then the response status is 401
    When I send a GET request to "/status/200" with:
      | part   | name    | value              |
      | host   |         | update.example.com |
      | header | api-key | update-key-4560    |
    Then the response status is 401

  Scenario Outline: After the merge the named old key and every current key work, the dropped key does not
    When the Secret "kgateway-system/api-keys-secret-update" is deleted
    And the following resources are applied:
      """
      apiVersion: v1
      kind: Secret
      metadata:
        name: api-keys-secret-update
        namespace: kgateway-system
      stringData:
        client3: update-key-7890
        client4: update-key-9990
      """
    And the following resources are applied:
      """
      apiVersion: v1
      kind: Secret
      metadata:
        name: api-keys-secret-update
        namespace: kgateway-system
      stringData:
        client1: update-key-1230
        client3: update-key-7890
        client4: update-key-9990
        client5: update-key-1110
      """
    And I send a GET request to "/status/200" with:
      | part   | name    | value              |
      | host   |         | update.example.com |
      | header | api-key | <key>              |
    Then the response status is <status>

    Examples:
      | key             | status |
      | update-key-1230 | 200    |
      | update-key-7890 | 200    |
      | update-key-9990 | 200    |
      | update-key-1110 | 200    |
      | update-key-4560 | 401    |
