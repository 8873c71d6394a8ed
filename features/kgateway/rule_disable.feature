@kgateway @APIKeyAuthDisable
Feature: kgateway switches auth off for one named rule under a Gateway-wide policy
  `disable: {}` in a policy whose target is one named rule (`sectionName`) is the most specific attachment for
  that rule: the rule is open while the route's other rules keep the Gateway's policy. With the filter off for the
  rule nothing is removed, so a key sent there reaches the upstream.

  Ported from kgateway-dev/kgateway test/e2e/features/apikeyauth/suite.go, TestAPIKeyAuthDisableAtRouteLevel
  (testdata api-key-auth-disable.yaml: Gateway policy on header api-key, `disable: {}` on the rule named
  public-route); the disabled per-route FilterConfig is kgateway's
  pkg/kgateway/extensions2/plugins/trafficpolicy/api_key_auth_test.go.

  Background:
    Given the gateway routes "www.example.com" to httpbin
    And the following resources are applied:
      """
      apiVersion: gateway.networking.k8s.io/v1
      kind: HTTPRoute
      metadata:
        name: httpbin-route-disable
        namespace: kgateway-system
      spec:
        parentRefs:
          - name: http
        hostnames:
          - disable.example.com
        rules:
          - matches:
              - path:
                  type: PathPrefix
                  value: /status/200
            backendRefs:
              - name: httpbin
                port: 8000
          - name: public-route
            matches:
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
        name: api-keys-secret-gateway
        namespace: kgateway-system
      stringData:
        client1: disable-key-1230
        client2: disable-key-4560
      ---
      apiVersion: gateway.kgateway.dev/v1alpha1
      kind: TrafficPolicy
      metadata:
        name: api-key-auth-gateway
        namespace: kgateway-system
      spec:
        targetRefs:
          - group: gateway.networking.k8s.io
            kind: Gateway
            name: http
        apiKeyAuth:
          keySources:
            - header: api-key
          forwardCredential: false
          secretRef:
            name: api-keys-secret-gateway
      ---
      apiVersion: gateway.kgateway.dev/v1alpha1
      kind: TrafficPolicy
      metadata:
        name: api-key-auth-route-disable
        namespace: kgateway-system
      spec:
        targetRefs:
          - group: gateway.networking.k8s.io
            kind: HTTPRoute
            name: httpbin-route-disable
            sectionName: public-route
        apiKeyAuth:
          disable: {}
      """

  Scenario Outline: The route's other rule keeps the Gateway's policy
    When I send a GET request to "/status/200" with:
      | part   | name    | value               |
      | host   |         | disable.example.com |
      | header | api-key | <key>               |
    Then the response status is <status>

    Examples:
      | key              | status |
      |                  | 401    |
      | disable-key-1230 | 200    |
      | invalid-key      | 401    |

  Scenario: The disabled rule needs no key
    When I send a GET request to "/get" with:
      | part | name | value               |
      | host |      | disable.example.com |
    Then the response status is 200

  Scenario: A key sent to the disabled rule is neither checked nor removed
    When I send a GET request to "/get" with:
      | part   | name    | value               |
      | host   |         | disable.example.com |
      | header | api-key | disable-key-1230    |
    Then the response status is 200
    And the upstream receives header "api-key" with value "disable-key-1230"

  Scenario: Deleting the disable policy puts the rule back under the Gateway's policy
    When the TrafficPolicy "kgateway-system/api-key-auth-route-disable" is deleted
    And I send a GET request to "/get" with:
      | part | name | value               |
      | host |      | disable.example.com |
    Then the response status is 401
