@kgateway @APIKeyAuthMultipleSources
Feature: A keySources item that sets header, query and cookie reads only the header
  kgateway passes each `keySources` item to Envoy as it is; Envoy's KeySource uses the header when it is set, so
  an item that also names a query parameter and a cookie never reads them. A second item adds a second header.

  Ported from kgateway-dev/kgateway pkg/kgateway/translator/gateway/testutils/{inputs,outputs}/traffic-policy/
  api-key-auth-gateway.yaml (a Gateway-level policy with items {header api-key, query api-key-query, cookie
  api-key-cookie} and {header api-key-other}, forwardCredential: true; the output keeps all three fields of the
  first item) and Envoy's api_key_auth.proto ("If set, takes precedence over query and cookie").

  Background:
    Given the gateway routes "www.example.com" to httpbin
    And the following resources are applied:
      """
      apiVersion: v1
      kind: Secret
      metadata:
        name: api-keys
        namespace: kgateway-system
      stringData:
        client1: fields-key-1230
        client2: fields-key-4560
      ---
      apiVersion: gateway.kgateway.dev/v1alpha1
      kind: TrafficPolicy
      metadata:
        name: api-key-auth-gateway
        namespace: kgateway-system
      spec:
        targetRefs:
          - group: gateway.networking.k8s.io
            kind: Gateway
            name: http
        apiKeyAuth:
          keySources:
            - header: api-key
              query: api-key-query
              cookie: api-key-cookie
            - header: api-key-other
          forwardCredential: true
          secretRef:
            name: api-keys
      """

  Scenario Outline: Only the headers of the items are read
    When I send a GET request to "/anything" with:
      | part   | name   | value           |
      | <part> | <name> | fields-key-1230 |
    Then the response status is <status>

    Examples:
      | part   | name           | status |
      | header | api-key        | 200    |
      | header | api-key-other  | 200    |
      | query  | api-key-query  | 401    |
      | cookie | api-key-cookie | 401    |

  Scenario: A key in the second item's header is forwarded unchanged
    When I send a GET request to "/anything" with:
      | part   | name          | value           |
      | header | api-key-other | fields-key-4560 |
    Then the response status is 200
    And the upstream receives header "api-key-other" with value "fields-key-4560"
