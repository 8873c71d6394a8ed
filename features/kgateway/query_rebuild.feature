@kgateway @APIKeyAuthQuerySource
Feature: kgateway rebuilds the query string when it hides a query-source key
  When a `keySources` item reads a query parameter and the credential is hidden, Envoy's api_key_auth filter
  removes the parameter by parsing the whole query into an ordered map and writing it back, on every allowed
  request, whichever source held the key: parameters sorted by name, the values of a repeated name together in
  their order, decoded bytes written back as they are, a bare name given `=`, and no `?` when nothing is left.
  Upstream: envoyproxy/envoy `source/extensions/filters/http/api_key_auth/api_key_auth.cc` (KeySources::Source::
  removeKey) over `source/common/http/utility.cc` (Utility::QueryParamsMulti: parseAndDecodeQueryString, remove,
  replaceQueryString); its test `test/extensions/filters/http/api_key_auth/api_key_auth_test.cc`
  HideCredentialsQueryWithForwarding (`/path?api_key=key1` becomes `/path`). Observed on Envoy 1.40.

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
        client1: rebuild-key-5c2e91
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
            - header: api-key
            - query: api_key
      """

  Scenario: The remaining parameters arrive sorted by name
    When I send a GET request to "/anything?z=2&a=1&api_key=rebuild-key-5c2e91&m=3"
    Then the response status is 200
    And the upstream receives the query string "a=1&m=3&z=2"

  Scenario: The values of a repeated name arrive together, in their order
    When I send a GET request to "/anything?b=1&a=2&b=3" with:
      | part   | name    | value              |
      | header | api-key | rebuild-key-5c2e91 |
    Then the response status is 200
    And the upstream receives the query string "a=2&b=1&b=3"

  Scenario: The query is rebuilt even when the key came from the header
    When I send a GET request to "/anything?zeta=1&alpha=2" with:
      | part   | name    | value              |
      | header | api-key | rebuild-key-5c2e91 |
    Then the response status is 200
    And the upstream receives the query string "alpha=2&zeta=1"

  Scenario: A parameter without a value arrives with "="
    When I send a GET request to "/anything?flag&api_key=rebuild-key-5c2e91"
    Then the response status is 200
    And the upstream receives the query string "flag="
    And the upstream receives query parameter "flag" with value ""

  Scenario: An encoded "&" arrives decoded, so it splits the value
    When I send a GET request to "/anything?a=%26&b=c" with:
      | part   | name    | value              |
      | header | api-key | rebuild-key-5c2e91 |
    Then the response status is 200
    And the upstream receives the query string "a=&&b=c"
    And the upstream receives query parameter "a" with value ""
    And the upstream receives query parameter "b" with value "c"

  Scenario: An encoded "+" arrives as a plain "+", which the upstream reads as a space
    When I send a GET request to "/anything?plus=%2B&sum=1+2" with:
      | part   | name    | value              |
      | header | api-key | rebuild-key-5c2e91 |
    Then the response status is 200
    And the upstream receives the query string "plus=+&sum=1+2"
    And the upstream receives query parameter "plus" with value " "

  Scenario: Other encoded characters arrive decoded
    When I send a GET request to "/anything?path=%2Fa%2Fb&eq=%3D&pct=%25" with:
      | part   | name    | value              |
      | header | api-key | rebuild-key-5c2e91 |
    Then the response status is 200
    And the upstream receives the query string "eq==&path=/a/b&pct=%"

  Scenario: Hiding the only parameter leaves no query string at all
    When I send a GET request to "/anything?api_key=rebuild-key-5c2e91"
    Then the response status is 200
    And the upstream receives no query string

  Scenario: Without a query source, or when the key is forwarded, the query arrives as sent
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
      """
    And I send a GET request to "/anything?z=2&a=%26&flag" with:
      | part   | name    | value              |
      | header | api-key | rebuild-key-5c2e91 |
    Then the response status is 200
    And the upstream receives the query string "z=2&a=%26&flag"
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
          forwardCredential: true
          keySources:
            - query: api_key
      """
    And I send a GET request to "/anything?z=2&api_key=rebuild-key-5c2e91&a=1"
    Then the response status is 200
    And the upstream receives the query string "z=2&api_key=rebuild-key-5c2e91&a=1"
