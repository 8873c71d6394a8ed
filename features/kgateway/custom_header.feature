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

  Scenario Outline: Of a repeated key header only the first line counts, even when it is empty
    When I send a GET request to "/headers" with:
      | part   | name      | value    |
      | header | X-API-KEY | <first>  |
      | header | X-API-KEY | <second> |
    Then the response status is <status>

    Examples:
      | first                                            | second                                           | status |
      | N2YwMDIxZTEtNGUzNS1jNzgzLTRkYjAtYjE2YzRkZGVmNjcy | wrong-key-000000                                 | 200    |
      | wrong-key-000000                                 | N2YwMDIxZTEtNGUzNS1jNzgzLTRkYjAtYjE2YzRkZGVmNjcy | 401    |
      |                                                  | N2YwMDIxZTEtNGUzNS1jNzgzLTRkYjAtYjE2YzRkZGVmNjcy | 401    |

  Scenario Outline: Repeated Authorization lines are one value, the non-empty lines joined with a comma
    Envoy holds Authorization inline: its filter reads, and the upstream receives, one joined value.

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
            - header: Authorization
          forwardCredential: true
      """
    And I send a GET request to "/headers" with:
      | part   | name          | value    |
      | header | Authorization | <first>  |
      | header | Authorization | <second> |
    Then the response status is <status>

    Examples:
      | first                                            | second                                           | status |
      | N2YwMDIxZTEtNGUzNS1jNzgzLTRkYjAtYjE2YzRkZGVmNjcy | N2YwMDIxZTEtNGUzNS1jNzgzLTRkYjAtYjE2YzRkZGVmNjcy | 401    |
      | N2YwMDIxZTEtNGUzNS1jNzgzLTRkYjAtYjE2YzRkZGVmNjcy | wrong-key-000000                                 | 401    |
      |                                                  | N2YwMDIxZTEtNGUzNS1jNzgzLTRkYjAtYjE2YzRkZGVmNjcy | 200    |

  Scenario: An empty Authorization line is left out of the value the upstream receives
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
            - header: Authorization
          forwardCredential: true
      """
    And I send a GET request to "/headers" with:
      | part   | name          | value                                            |
      | header | Authorization | N2YwMDIxZTEtNGUzNS1jNzgzLTRkYjAtYjE2YzRkZGVmNjcy |
      | header | Authorization |                                                  |
    Then the response status is 200
    And the upstream receives header "Authorization" with value "N2YwMDIxZTEtNGUzNS1jNzgzLTRkYjAtYjE2YzRkZGVmNjcy"
