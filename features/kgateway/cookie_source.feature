@kgateway @APIKeyAuthCookieSource
Feature: kgateway reads the key from a cookie
  A cookie source reads the named cookie (surrounding double quotes removed); unless forwarded, that cookie is
  removed, the others are kept, and a Cookie header left empty is dropped.

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
        client1: cookie-key-5b8e21f7
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
            - cookie: auth_token
      """

  Scenario: The key cookie is accepted and removed, other cookies are kept
    When I send a GET request to "/headers" with:
      | part   | name       | value               |
      | cookie | session    | abc123              |
      | cookie | auth_token | cookie-key-5b8e21f7 |
      | cookie | theme      | dark                |
    Then the response status is 200
    And the upstream receives no cookie "auth_token"
    And the upstream receives cookie "session" with value "abc123"
    And the upstream receives cookie "theme" with value "dark"

  Scenario: A Cookie header holding only the key cookie is dropped
    When I send a GET request to "/headers" with:
      | part   | name       | value               |
      | cookie | auth_token | cookie-key-5b8e21f7 |
    Then the response status is 200
    And the upstream receives no Cookie header

  Scenario: Double quotes around the cookie value are removed
    When I send a GET request to "/headers" with:
      | part   | name       | value                 |
      | cookie | auth_token | "cookie-key-5b8e21f7" |
    Then the response status is 200

  Scenario: A wrong key in the cookie is rejected
    When I send a GET request to "/headers" with:
      | part   | name       | value            |
      | cookie | auth_token | not-the-key-0000 |
    Then the response status is 401

  Scenario: The other cookies are merged into one Cookie line, unquoted, pieces without "=" dropped
    Envoy rebuilds the Cookie header when it removes the key's cookie (Http::Utility::removeCookieValue).

    When I send a GET request to "/headers" with:
      | part   | name       | value               |
      | header | Cookie     | flag; lang=en       |
      | cookie | theme      | "dark"              |
      | cookie | auth_token | cookie-key-5b8e21f7 |
      | cookie | session    | abc123              |
    Then the response status is 200
    And the upstream receives header "Cookie" with value "lang=en; theme=dark; session=abc123"

  Scenario: A cookie name is everything before "=", spaces included
    When I send a GET request to "/headers" with:
      | part   | name   | value                           |
      | header | Cookie | auth_token =cookie-key-5b8e21f7 |
    Then the response status is 401
