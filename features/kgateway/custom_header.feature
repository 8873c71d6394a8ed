@kgateway @APIKeyAuthCustomHeader
Feature: kgateway reads the key from a header the policy names
  `keySources: [{header: X-API-KEY}]` replaces the default `api-key` header; header names are case-insensitive.

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
        api-key: N2YwMDIxZTEtNGUzNS1jNzgzLTRkYjAtYjE2YzRkZGVmNjcy
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
      """

  Scenario Outline: The key in the configured header is accepted, whatever the header name's case
    When I send a GET request to "/headers" with:
      | part   | name     | value                                            |
      | header | <header> | N2YwMDIxZTEtNGUzNS1jNzgzLTRkYjAtYjE2YzRkZGVmNjcy |
    Then the response status is 200
    And the upstream receives no header "x-api-key"

    Examples:
      | header    |
      | X-API-KEY |
      | x-api-key |

  Scenario: The default api-key header is no longer read
    When I send a GET request to "/headers" with:
      | part   | name    | value                                            |
      | header | api-key | N2YwMDIxZTEtNGUzNS1jNzgzLTRkYjAtYjE2YzRkZGVmNjcy |
    Then the response status is 401
    And the response body is "Client authentication failed."

  Scenario: An empty configured header counts as no key
    When I send a GET request to "/headers" with:
      | part   | name      | value |
      | header | X-API-KEY |       |
    Then the response status is 401
