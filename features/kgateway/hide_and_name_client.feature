@kgateway @APIKeyAuthHideCredential
Feature: kgateway hides the key and names the client in one step
  With a client id header and the credential hidden (the default), a valid key is removed from the source it came
  in and the client's name is set instead, whichever kind of source held the key.

  Ported from envoyproxy/envoy test/extensions/filters/http/api_key_auth/api_key_auth_test.cc,
  HideCredentialsHeaderWithForwarding, HideCredentialsQueryWithForwarding and HideCredentialsCookieWithForwarding
  (forwarding header x-client-id, hide_credentials true), as kgateway configures that filter
  (`clientIdHeader`, no `forwardCredential`).

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
        user1: hidden-named-key-7c3d
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
          clientIdHeader: x-client-id
      """

  Scenario Outline: The key is removed from its source and the client id set
    When I send a GET request to "/anything" with:
      | part   | name   | value   |
      | <part> | <name> | <value> |
    Then the response status is 200
    And the upstream receives <received> "<name>"
    And the upstream receives header "x-client-id" with value "user1"

    Examples:
      | part   | name          | value                        | received           |
      | header | Authorization | Bearer hidden-named-key-7c3d | no header          |
      | query  | api_key       | hidden-named-key-7c3d        | no query parameter |
      | cookie | api_key       | hidden-named-key-7c3d        | no cookie          |
