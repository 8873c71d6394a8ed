@kgateway @APIKeyAuthMultipleSources
Feature: kgateway tries several key sources in list order
  Sources are tried in the order they are listed and the first one that holds a non-empty value decides: a
  wrong key found first is not rescued by a right key in a later source. The guide's "header before query
  before cookie" precedence is an erratum: only the list order counts, and within one `keySources` item only
  its first set field (header, else query, else cookie) is used.

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
        client1: multi-source-key-81d2c7a0
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
          keySources:
            - header: X-API-KEY
            - query: api_key
            - cookie: auth_token
      """

  Scenario Outline: The key is accepted from any listed source
    When I send a GET request to "/anything" with:
      | part   | name   | value                     |
      | <part> | <name> | multi-source-key-81d2c7a0 |
    Then the response status is 200

    Examples:
      | part   | name       |
      | header | X-API-KEY  |
      | query  | api_key    |
      | cookie | auth_token |

  Scenario: A wrong key in an earlier source is not rescued by the right key in a later one
    When I send a GET request to "/anything" with:
      | part   | name      | value                     |
      | header | X-API-KEY | wrong-key-000000          |
      | query  | api_key   | multi-source-key-81d2c7a0 |
    Then the response status is 401
    And the response body is "Client authentication failed."

  # envoyproxy/envoy test/extensions/filters/http/api_key_auth/api_key_auth_test.cc, OrderOfKeySources
  Scenario: A wrong key in the query is not rescued by the right key in a later cookie
    When I send a GET request to "/headers" with:
      | part   | name       | value                     |
      | query  | api_key    | wrong-key-000000          |
      | cookie | auth_token | multi-source-key-81d2c7a0 |
    Then the response status is 401

  Scenario: An empty earlier source falls through to the next one
    When I send a GET request to "/anything" with:
      | part   | name      | value                     |
      | header | X-API-KEY |                           |
      | query  | api_key   | multi-source-key-81d2c7a0 |
    Then the response status is 200

  Scenario: List order wins over the kind of source (the guide's precedence is an erratum)
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
          secretRef:
            name: apikey
          keySources:
            - cookie: auth_token
            - header: X-API-KEY
      """
    And I send a GET request to "/anything" with:
      | part   | name       | value                     |
      | header | X-API-KEY  | multi-source-key-81d2c7a0 |
      | cookie | auth_token | wrong-key-000000          |
    Then the response status is 401

  Scenario: One keySources item with several fields reads only its header
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
          secretRef:
            name: apikey
          keySources:
            - header: X-API-KEY
              query: api_key
      """
    And I send a GET request to "/anything" with:
      | part  | name    | value                     |
      | query | api_key | multi-source-key-81d2c7a0 |
    Then the response status is 401
