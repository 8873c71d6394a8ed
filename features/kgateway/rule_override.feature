@kgateway @APIKeyAuthRouteOverride
Feature: A kgateway policy on one named rule replaces the Gateway's policy for that rule only
  The rule-level attachment (an HTTPRoute target with `sectionName`) is more specific than the Gateway-level one
  and wins whole: on that rule only the rule policy's keys, key sources and forwarding count; the route's other
  rules keep the Gateway's policy, whose per-filter config sits on the RouteConfiguration.

  Ported from:
  - kgateway-dev/kgateway test/e2e/features/apikeyauth/suite.go, TestAPIKeyAuthRouteOverrideGateway
    (testdata api-key-auth-override.yaml: Gateway keys client1/client2, rule1 keys client3/client4);
  - kgateway-dev/kgateway pkg/kgateway/translator/gateway/testutils/{inputs,outputs}/traffic-policy/
    api-key-auth-override-section.yaml (a rule policy with its own header and forwardCredential: true).

  Background:
    Given the gateway routes "www.example.com" to httpbin
    And the following resources are applied:
      """
      apiVersion: gateway.networking.k8s.io/v1
      kind: HTTPRoute
      metadata:
        name: httpbin-route-override
        namespace: kgateway-system
      spec:
        parentRefs:
          - name: http
        hostnames:
          - override.example.com
        rules:
          - matches:
              - path:
                  type: PathPrefix
                  value: /status/200
            backendRefs:
              - name: httpbin
                port: 8000
          - name: rule1
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
        name: api-keys-secret
        namespace: kgateway-system
      stringData:
        client1: gateway-key-1230
        client2: gateway-key-4560
      ---
      apiVersion: v1
      kind: Secret
      metadata:
        name: api-keys-secret-route
        namespace: kgateway-system
      stringData:
        client3: rule-key-7890
        client4: rule-key-9990
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
            name: api-keys-secret
      """

  Rule: A rule policy with the same header and other keys

    Background:
      Given the following resources are applied:
        """
        apiVersion: gateway.kgateway.dev/v1alpha1
        kind: TrafficPolicy
        metadata:
          name: api-key-auth-route-override
          namespace: kgateway-system
        spec:
          targetRefs:
            - group: gateway.networking.k8s.io
              kind: HTTPRoute
              name: httpbin-route-override
              sectionName: rule1
          apiKeyAuth:
            keySources:
              - header: api-key
            forwardCredential: false
            secretRef:
              name: api-keys-secret-route
        """

    Scenario Outline: Without a key both rules reject the request
      When I send a GET request to "<path>" with:
        | part | name | value                |
        | host |      | override.example.com |
      Then the response status is 401

      Examples:
        | path        |
        | /get        |
        | /status/200 |

    Scenario Outline: Each rule accepts only the keys of the policy that wins there
      When I send a GET request to "<path>" with:
        | part   | name    | value                |
        | host   |         | override.example.com |
        | header | api-key | <key>                |
      Then the response status is <status>

      Examples:
        | path        | key              | status |
        | /get        | rule-key-7890    | 200    |
        | /get        | rule-key-9990    | 200    |
        | /get        | gateway-key-1230 | 401    |
        | /get        | gateway-key-4560 | 401    |
        | /status/200 | gateway-key-1230 | 200    |
        | /status/200 | gateway-key-4560 | 200    |
        | /status/200 | rule-key-7890    | 401    |

  Rule: A rule policy with its own header that forwards the credential

    Background:
      Given the following resources are applied:
        """
        apiVersion: gateway.kgateway.dev/v1alpha1
        kind: TrafficPolicy
        metadata:
          name: api-key-auth-route-override
          namespace: kgateway-system
        spec:
          targetRefs:
            - group: gateway.networking.k8s.io
              kind: HTTPRoute
              name: httpbin-route-override
              sectionName: rule1
          apiKeyAuth:
            keySources:
              - header: x-api-key
            forwardCredential: true
            secretRef:
              name: api-keys-secret-route
        """

    Scenario: The named rule reads its own header and forwards the key
      When I send a GET request to "/get" with:
        | part   | name      | value                |
        | host   |           | override.example.com |
        | header | x-api-key | rule-key-7890        |
      Then the response status is 200
      And the upstream receives header "x-api-key" with value "rule-key-7890"

    Scenario: The named rule no longer reads the Gateway policy's header
      When I send a GET request to "/get" with:
        | part   | name    | value                |
        | host   |         | override.example.com |
        | header | api-key | rule-key-7890        |
      Then the response status is 401

    Scenario: Other routes keep the Gateway policy's header and hide the key
      When I send a GET request to "/get" with:
        | part   | name    | value            |
        | host   |         | www.example.com  |
        | header | api-key | gateway-key-1230 |
      Then the response status is 200
      And the upstream receives no header "api-key"
