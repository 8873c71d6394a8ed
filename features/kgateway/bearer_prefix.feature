@kgateway @APIKeyAuthBearerPrefix
Feature: kgateway strips exactly "Bearer " from a header key
  Envoy removes a leading `Bearer ` (capital B, one space) from a header value before comparing it; any other
  spelling stays part of the key.

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
        client1: bearer-test-key-3fa9c1
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
      """

  Scenario Outline: Only the exact "Bearer " prefix is removed
    When I send a GET request to "/headers" with:
      | part   | name    | value   |
      | header | api-key | <value> |
    Then the response status is <status>

    Examples:
      | value                          | status |
      | Bearer bearer-test-key-3fa9c1  | 200    |
      | bearer-test-key-3fa9c1         | 200    |
      | bearer bearer-test-key-3fa9c1  | 401    |
      | BEARER bearer-test-key-3fa9c1  | 401    |
      | Token bearer-test-key-3fa9c1   | 401    |
