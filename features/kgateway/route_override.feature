@kgateway @APIKeyAuthRouteOverride
Feature: A route's policy replaces the Gateway's policy whole
  The most specific attachment wins and nothing merges across levels: on a route with its own policy, the
  Gateway policy's keys and key sources no longer apply. A route that only wants other forwarding must restate
  the keys: Envoy's per-route config replaces the filter's forwarding alone (envoyproxy/envoy
  test/extensions/filters/http/api_key_auth/api_key_auth_test.cc, RouteConfigOverrideForwarding), but kgateway
  always emits a whole ApiKeyAuthPerRoute (kgateway-dev/kgateway pkg/kgateway/translator/gateway/testutils/outputs/
  traffic-policy/api-key-auth-override.yaml: the route gets its own credentials, key sources and `forwarding: {}`).

  Background:
    Given the gateway routes "www.example.com" to httpbin
    And the following resources are applied:
      """
      apiVersion: v1
      kind: Secret
      metadata:
        name: gateway-keys
        namespace: kgateway-system
      stringData:
        gateway-client: gateway-level-key-19af3c
      ---
      apiVersion: v1
      kind: Secret
      metadata:
        name: route-keys
        namespace: kgateway-system
      stringData:
        route-client: route-level-key-8c02e5
      ---
      apiVersion: gateway.networking.k8s.io/v1
      kind: HTTPRoute
      metadata:
        name: httpbin-team
        namespace: kgateway-system
      spec:
        parentRefs:
          - name: http
        hostnames:
          - team.example.com
        rules:
          - backendRefs:
              - name: httpbin
                port: 8000
      ---
      apiVersion: gateway.kgateway.dev/v1alpha1
      kind: TrafficPolicy
      metadata:
        name: gateway-auth
        namespace: kgateway-system
      spec:
        targetRefs:
          - group: gateway.networking.k8s.io
            kind: Gateway
            name: http
        apiKeyAuth:
          secretRef:
            name: gateway-keys
      ---
      apiVersion: gateway.kgateway.dev/v1alpha1
      kind: TrafficPolicy
      metadata:
        name: route-auth
        namespace: kgateway-system
      spec:
        targetRefs:
          - group: gateway.networking.k8s.io
            kind: HTTPRoute
            name: httpbin-team
        apiKeyAuth:
          secretRef:
            name: route-keys
          keySources:
            - header: X-Team-Key
          clientIdHeader: x-client-id
      """

  Scenario: The route's own key and header are used on the route
    When I send a GET request to "/headers" with:
      | part   | name       | value                  |
      | host   |            | team.example.com       |
      | header | X-Team-Key | route-level-key-8c02e5 |
    Then the response status is 200
    And the upstream receives header "x-client-id" with value "route-client"

  Scenario: The Gateway's key is not accepted on the route
    When I send a GET request to "/headers" with:
      | part   | name    | value                    |
      | host   |         | team.example.com         |
      | header | api-key | gateway-level-key-19af3c |
    Then the response status is 401

  Scenario: Other routes keep the Gateway's policy
    When I send a GET request to "/headers" with:
      | part   | name    | value                    |
      | header | api-key | gateway-level-key-19af3c |
    Then the response status is 200
    And the upstream receives no header "x-client-id"

  Scenario: A route policy restating the Gateway's keys with forwardCredential keeps the key on that route
    When the following resources are applied:
      """
      apiVersion: gateway.kgateway.dev/v1alpha1
      kind: TrafficPolicy
      metadata:
        name: route-auth
        namespace: kgateway-system
      spec:
        targetRefs:
          - group: gateway.networking.k8s.io
            kind: HTTPRoute
            name: httpbin-team
        apiKeyAuth:
          secretRef:
            name: gateway-keys
          forwardCredential: true
      """
    And I send a GET request to "/headers" with:
      | part   | name    | value                    |
      | host   |         | team.example.com         |
      | header | api-key | gateway-level-key-19af3c |
    Then the response status is 200
    And the upstream receives header "api-key" with value "gateway-level-key-19af3c"
    When I send a GET request to "/headers" with:
      | part   | name    | value                    |
      | header | api-key | gateway-level-key-19af3c |
    Then the response status is 200
    And the upstream receives no header "api-key"

  Scenario: The route policy's client id header is not set on the Gateway's other routes
    When I send a GET request to "/headers" with:
      | part   | name        | value                    |
      | header | api-key     | gateway-level-key-19af3c |
      | header | x-client-id | forged                   |
    Then the response status is 200
    And the upstream receives no header "api-key"
    And the upstream receives header "x-client-id" with value "forged"
