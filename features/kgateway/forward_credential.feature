@kgateway @APIKeyAuthForwardCredential
Feature: kgateway keeps the key for the upstream when asked
  `forwardCredential: true` leaves the request as the client sent it. The cookie and every-source cases are ported
  from envoyproxy/envoy test/extensions/filters/http/api_key_auth/api_key_auth_test.cc, CookieApiKeyWithForwarding
  and HideCredentialsMultipleKeySourcesWithForwarding (its inverse: with forwarding no source is touched).

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

  Scenario: The key stays in the cookie when forwarded, and the client is named
    Given the gateway routes "www.example.com" to httpbin
    And the following resources are applied:
      """
      apiVersion: v1
      kind: Secret
      metadata:
        name: apikey
        namespace: kgateway-system
      stringData:
        user1: forwarded-cookie-key-5e1a
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
            - cookie: api_key
          clientIdHeader: x-client-id
          forwardCredential: true
      """
    When I send a GET request to "/headers" with:
      | part   | name    | value                     |
      | cookie | api_key | forwarded-cookie-key-5e1a |
      | cookie | theme   | dark                      |
    Then the response status is 200
    And the upstream receives cookie "api_key" with value "forwarded-cookie-key-5e1a"
    And the upstream receives cookie "theme" with value "dark"
    And the upstream receives header "x-client-id" with value "user1"

  Scenario: No configured source is touched when the credential is forwarded
    Given the gateway routes "www.example.com" to httpbin
    And the following resources are applied:
      """
      apiVersion: v1
      kind: Secret
      metadata:
        name: apikey
        namespace: kgateway-system
      stringData:
        user1: forwarded-any-key-6f2b
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
            - header: Authorization
            - query: api_key
            - cookie: api_key
          forwardCredential: true
      """
    When I send a GET request to "/anything" with:
      | part   | name          | value                         |
      | header | Authorization | Bearer forwarded-any-key-6f2b |
      | query  | api_key       | forwarded-any-key-6f2b        |
      | cookie | api_key       | forwarded-any-key-6f2b        |
    Then the response status is 200
    And the upstream receives header "authorization" with value "Bearer forwarded-any-key-6f2b"
    And the upstream receives query parameter "api_key" with value "forwarded-any-key-6f2b"
    And the upstream receives cookie "api_key" with value "forwarded-any-key-6f2b"
