@agentgateway @APIKeyAuthHashedKeys
Feature: agentgateway hashed keys from ConfigMaps, on a route and on the whole Gateway
  A `configMapSelector` reads `keyHash` entries from every ConfigMap with the labels, with or without metadata,
  written as YAML block scalars. On an HTTPRoute the policy guards that route; on the Gateway, every route.

  Ported from agentgateway/agentgateway controller/test/e2e/apikeyauth_test.go, testApiKeyAuthRoutePolicy
  (testdata apikeyauth/secured-route-configmap.yaml) and testApiKeyAuthGatewayPolicy (testdata
  apikeyauth/secured-gateway-policy.yaml): two hashed keys, one with metadata group sales, the other without;
  `nosuchkey` and no key are rejected.

  Background:
    Given the gateway routes "www.example.com" to httpbin

  Rule: A route-level policy

    Background:
      Given the following resources are applied:
        """
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata:
          name: route-secure-cm
          namespace: agentgateway-system
        spec:
          parentRefs:
            - name: agentgateway-proxy
          hostnames:
            - secureroutecm.example.com
          rules:
            - backendRefs:
                - name: httpbin
                  port: 8000
        ---
        apiVersion: agentgateway.dev/v1alpha1
        kind: AgentgatewayPolicy
        metadata:
          name: route-policy-configmap
          namespace: agentgateway-system
        spec:
          targetRefs:
            - group: gateway.networking.k8s.io
              kind: HTTPRoute
              name: route-secure-cm
          traffic:
            apiKeyAuthentication:
              mode: Strict
              configMapSelector:
                matchLabels:
                  app: route-apikey-auth-cm
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: route-apikey-auth-cm
          namespace: agentgateway-system
          labels:
            app: route-apikey-auth-cm
        data:
          # keyHash of agw-cm-key-1230
          client1: |
            {
              "keyHash": "sha256:4899fdb15131f95ab13a7a72297f84d5eb8f7b7dc065c7d95e519f3fb3f8f73b",
              "metadata": {
                "group": "sales"
              }
            }
          # keyHash of agw-cm-key-4560
          client2: |
            {
              "keyHash": "sha256:fc600dcdf54409e4b2e414c27224a62010c4f0013bacc44c3756d374a5771181"
            }
        """

    Scenario Outline: Both hashed keys are accepted on the route
      When I send a GET request to "/headers" with:
        | part   | name          | value                     |
        | host   |               | secureroutecm.example.com |
        | header | Authorization | Bearer <key>              |
      Then the response status is 200
      And the upstream receives no header "authorization"

      Examples:
        | key             |
        | agw-cm-key-1230 |
        | agw-cm-key-4560 |

    Scenario Outline: An unknown key or none is rejected on the route
      When I send a GET request to "/headers" with:
        | part   | name          | value                     |
        | host   |               | secureroutecm.example.com |
        | header | Authorization | <authorization>           |
      Then the response status is 401
      And the response body is "api key authentication failure: <why>"

      Examples:
        | authorization    | why                 |
        | Bearer nosuchkey | invalid credentials |
        |                  | no API Key found    |

    Scenario: Other routes are not guarded by the route's policy
      When I send a GET request to "/headers"
      Then the response status is 200

  Rule: A Gateway-level policy

    Background:
      Given the following resources are applied:
        """
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata:
          name: route-secure-gw
          namespace: agentgateway-system
        spec:
          parentRefs:
            - name: agentgateway-proxy
          hostnames:
            - securegateways.example.com
          rules:
            - backendRefs:
                - name: httpbin
                  port: 8000
        ---
        apiVersion: agentgateway.dev/v1alpha1
        kind: AgentgatewayPolicy
        metadata:
          name: gw-policy
          namespace: agentgateway-system
        spec:
          targetRefs:
            - group: gateway.networking.k8s.io
              kind: Gateway
              name: agentgateway-proxy
          traffic:
            apiKeyAuthentication:
              mode: Strict
              configMapSelector:
                matchLabels:
                  app: gw-apikey-auth
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: gw-apikey-auth
          namespace: agentgateway-system
          labels:
            app: gw-apikey-auth
        data:
          # keyHash of agw-gw-key-1230
          client1: |
            {
              "keyHash": "sha256:4218ce4e0b35666cbbd667961329ca55befab3c9f2324fbae744d07e15666698",
              "metadata": {
                "group": "sales"
              }
            }
          # keyHash of agw-gw-key-4560
          client2: |
            {
              "keyHash": "sha256:96129fb991e4c7c3ab159bda5b7ee53db9dc87d3657dbc52fa642d36afe8e014"
            }
        """

    Scenario Outline: Both hashed keys are accepted on every route of the Gateway
      When I send a GET request to "/headers" with:
        | part   | name          | value        |
        | host   |               | <host>       |
        | header | Authorization | Bearer <key> |
      Then the response status is 200

      Examples:
        | host                       | key             |
        | securegateways.example.com | agw-gw-key-1230 |
        | securegateways.example.com | agw-gw-key-4560 |
        | www.example.com            | agw-gw-key-1230 |

    Scenario Outline: An unknown key or none is rejected on the Gateway
      When I send a GET request to "/headers" with:
        | part   | name          | value                      |
        | host   |               | securegateways.example.com |
        | header | Authorization | <authorization>            |
      Then the response status is 401
      And the response body is "api key authentication failure: <why>"

      Examples:
        | authorization    | why                 |
        | Bearer nosuchkey | invalid credentials |
        |                  | no API Key found    |
