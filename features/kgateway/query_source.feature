@kgateway @APIKeyAuthQuerySource
Feature: kgateway reads the key from a query parameter
  A query source takes the parameter's first occurrence, percent-decoded; unless forwarded, the parameter is
  removed before the request reaches the upstream and the other parameters are kept, though not as sent: the
  query is rebuilt (sorted by name, decoded; query_rebuild.feature).

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
        client1: query-key/with+special=chars
        client2: plain-query-key-0c41d9
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
            - query: api_key
      """

  Scenario: The key in the query is accepted and removed, other parameters are kept
    When I send a GET request to "/anything" with:
      | part  | name    | value                  |
      | query | page    | 2                      |
      | query | api_key | plain-query-key-0c41d9 |
      | query | sort    | asc                    |
    Then the response status is 200
    And the upstream receives no query parameter "api_key"
    And the upstream receives query parameter "page" with value "2"
    And the upstream receives query parameter "sort" with value "asc"

  Scenario: A percent-encoded key is decoded before it is compared
    When I send a GET request to "/anything" with:
      | part  | name    | value                              |
      | query | api_key | query-key%2Fwith%2Bspecial%3Dchars |
    Then the response status is 200

  Scenario: The first occurrence of the parameter decides
    When I send a GET request to "/anything" with:
      | part  | name    | value                  |
      | query | api_key | wrong-first-0000       |
      | query | api_key | plain-query-key-0c41d9 |
    Then the response status is 401

  Scenario: A key in the default header is not read
    When I send a GET request to "/anything" with:
      | part   | name    | value                  |
      | header | api-key | plain-query-key-0c41d9 |
    Then the response status is 401
