@kgateway @APIKeyAuthClientIDHeader
Feature: kgateway forwards the authenticated client's id in a header
  Each Secret entry's name is the client id. With `clientIdHeader`, that id is set on the upstream request,
  overwriting any value the client sent. The guide's entry name `api-key` is not special: it is a client id.

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
        client2: client-two-key-6e0b94d3
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
          clientIdHeader: x-client-id
      """

  Scenario Outline: The entry name of the matching key is the client id
    When I send a GET request to "/headers" with:
      | part   | name    | value  |
      | header | api-key | <key>  |
    Then the response status is 200
    And the upstream receives header "x-client-id" with value "<client>"

    Examples:
      | key                                              | client  |
      | N2YwMDIxZTEtNGUzNS1jNzgzLTRkYjAtYjE2YzRkZGVmNjcy | api-key |
      | client-two-key-6e0b94d3                          | client2 |

  Scenario: A client id sent by the client is overwritten
    When I send a GET request to "/headers" with:
      | part   | name        | value                   |
      | header | api-key     | client-two-key-6e0b94d3 |
      | header | x-client-id | admin                   |
    Then the response status is 200
    And the upstream receives header "x-client-id" with value "client2"

  Scenario: A rejected request never reaches the upstream with a client id
    When I send a GET request to "/headers" with:
      | part   | name        | value            |
      | header | api-key     | wrong-key-000000 |
      | header | x-client-id | admin            |
    Then the response status is 401

  Scenario: A client id header that is also a key source is set, then removed with the credential
    Envoy sets the client id first and then removes the credential from every source, so the upstream
    receives neither.

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
            - header: api-key
            - header: x-client-id
          clientIdHeader: x-client-id
      """
    And I send a GET request to "/headers" with:
      | part   | name    | value                   |
      | header | api-key | client-two-key-6e0b94d3 |
    Then the response status is 200
    And the upstream receives no header "x-client-id"
    And the upstream receives no header "api-key"
