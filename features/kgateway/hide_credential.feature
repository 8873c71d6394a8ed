@kgateway @APIKeyAuthHideCredential
Feature: kgateway removes the key from every configured source before forwarding
  Without `forwardCredential: true`, the key is removed from every configured source, including sources that
  were not used for this request; unrelated headers, parameters and cookies are kept.

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
        client1: hide-me-key-2c7f18e4
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

  Scenario: The key and the unused sources are all removed
    When I send a GET request to "/anything" with:
      | part   | name       | value                |
      | header | X-API-KEY  | hide-me-key-2c7f18e4 |
      | header | X-Trace    | keep-me              |
      | query  | api_key    | some-other-value     |
      | query  | page       | 3                    |
      | cookie | auth_token | another-value        |
      | cookie | session    | s1                   |
    Then the response status is 200
    And the upstream receives no header "x-api-key"
    And the upstream receives no query parameter "api_key"
    And the upstream receives no cookie "auth_token"
    And the upstream receives header "x-trace" with value "keep-me"
    And the upstream receives query parameter "page" with value "3"
    And the upstream receives cookie "session" with value "s1"

  Scenario: The default api-key header is removed when no sources are configured
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
      """
    And I send a GET request to "/headers" with:
      | part   | name    | value                |
      | header | api-key | hide-me-key-2c7f18e4 |
    Then the response status is 200
    And the upstream receives no header "api-key"
