@kgateway @APIKeyAuthForwardCredential
Feature: kgateway keeps the key for the upstream when asked
  `forwardCredential: true` leaves the request as the client sent it.

  Scenario: The key reaches the upstream unchanged
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
          forwardCredential: true
      """
    When I send a GET request to "/headers" with:
      | part   | name    | value                                                   |
      | header | api-key | Bearer N2YwMDIxZTEtNGUzNS1jNzgzLTRkYjAtYjE2YzRkZGVmNjcy |
    Then the response status is 200
    And the upstream receives header "api-key" with value "Bearer N2YwMDIxZTEtNGUzNS1jNzgzLTRkYjAtYjE2YzRkZGVmNjcy"

  Scenario: The key stays in the query when forwarded
    Given the gateway routes "www.example.com" to httpbin
    And the following resources are applied:
      """
      apiVersion: v1
      kind: Secret
      metadata:
        name: apikey
        namespace: kgateway-system
      stringData:
        client1: forwarded-query-key-77ab
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
          forwardCredential: true
      """
    When I send a GET request to "/anything" with:
      | part  | name    | value                    |
      | query | api_key | forwarded-query-key-77ab |
    Then the response status is 200
    And the upstream receives query parameter "api_key" with value "forwarded-query-key-77ab"
