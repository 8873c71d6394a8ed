@kgateway @APIKeyAuth
Feature: A kgateway policy on an HTTPRoute guards every rule of that route
  A TrafficPolicy whose target is an HTTPRoute (no sectionName) applies to all of the route's rules and to no other
  route. Here the policy lists two header sources, `api-key` and `Authorization`; Envoy removes an exact `Bearer `
  prefix from either, forwards the credential (`forwardCredential: true`) and names the client in `x-client-id`.

  Ported from:
  - kgateway-dev/kgateway test/e2e/features/apikeyauth/suite.go, TestAPIKeyAuthWithHTTPRouteLevelPolicy
    (testdata api-key-auth.yaml: rules /status/200 and /get, keySources api-key and Authorization);
  - kgateway-dev/kgateway pkg/kgateway/translator/gateway/testutils/{inputs,outputs}/traffic-policy/
    api-key-auth-httproute.yaml (the same per-route config on both rules of the route).

  Background:
    Given the gateway routes "www.example.com" to httpbin
    And the following resources are applied:
      """
      apiVersion: gateway.networking.k8s.io/v1
      kind: HTTPRoute
      metadata:
        name: httpbin-route
        namespace: kgateway-system
      spec:
        parentRefs:
          - name: http
        hostnames:
          - api.example.com
        rules:
          - matches:
              - path:
                  type: PathPrefix
                  value: /status/200
            backendRefs:
              - name: httpbin
                port: 8000
          - matches:
              - path:
                  type: PathPrefix
                  value: /get
            backendRefs:
              - name: httpbin
                port: 8000
      ---
      apiVersion: v1
      kind: Secret
      metadata:
        name: api-keys
        namespace: kgateway-system
      stringData:
        client1: route-key-1230
        client2: route-key-4560
      ---
      apiVersion: gateway.kgateway.dev/v1alpha1
      kind: TrafficPolicy
      metadata:
        name: api-key-auth-policy
        namespace: kgateway-system
      spec:
        targetRefs:
          - group: gateway.networking.k8s.io
            kind: HTTPRoute
            name: httpbin-route
        apiKeyAuth:
          keySources:
            - header: api-key
            - header: Authorization
          forwardCredential: true
          clientIdHeader: x-client-id
          secretRef:
            name: api-keys
      """

  Scenario Outline: Every rule of the route rejects a request without a key
    When I send a GET request to "<path>" with:
      | part | name | value           |
      | host |      | api.example.com |
    Then the response status is 401
    And the response body is "Client authentication failed."

    Examples:
      | path        |
      | /status/200 |
      | /get        |

  Scenario Outline: Every rule of the route accepts a key from either header source
    When I send a GET request to "<path>" with:
      | part   | name     | value           |
      | host   |          | api.example.com |
      | header | <header> | <value>         |
    Then the response status is 200

    Examples:
      | path        | header        | value                 |
      | /status/200 | api-key       | route-key-1230        |
      | /get        | api-key       | route-key-1230        |
      | /status/200 | Authorization | Bearer route-key-1230 |
      | /get        | Authorization | Bearer route-key-1230 |
      | /get        | Authorization | Bearer route-key-4560 |

  Scenario: An unknown key after the Bearer prefix is rejected
    When I send a GET request to "/get" with:
      | part   | name          | value              |
      | host   |               | api.example.com    |
      | header | Authorization | Bearer invalid-key |
    Then the response status is 401
    And the response body is "Client authentication failed."

  Scenario: The client is named upstream and the forwarded credential is untouched
    When I send a GET request to "/get" with:
      | part   | name          | value                 |
      | host   |               | api.example.com       |
      | header | Authorization | Bearer route-key-4560 |
    Then the response status is 200
    And the upstream receives header "x-client-id" with value "client2"
    And the upstream receives header "authorization" with value "Bearer route-key-4560"

  Scenario: Routes of other HTTPRoutes on the Gateway are not guarded
    When I send a GET request to "/get"
    Then the response status is 200
    And the upstream receives no header "x-client-id"
