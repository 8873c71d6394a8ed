@kgateway @APIKeyAuthSectionName
Feature: kgateway policies attached to one listener or one named route rule
  A `sectionName` on a Gateway target picks one listener; on an HTTPRoute target it picks one named rule.
  An `ExtensionRef` filter on a rule attaches a policy to that rule too. The last scenario ports
  envoyproxy/gateway test/e2e/tests/api_key_auth.go, the section-scoped case (testdata api-key-auth.yaml, policy
  sectionName policy-attached): a wrong key is rejected on the guarded rule and forwarded untouched elsewhere.

  Scenario: A listener-level policy guards only that listener
    Given the following resources are applied:
      """
      apiVersion: gateway.networking.k8s.io/v1
      kind: Gateway
      metadata:
        name: http
        namespace: kgateway-system
      spec:
        gatewayClassName: kgateway
        listeners:
          - name: http
            protocol: HTTP
            port: 8080
            allowedRoutes:
              namespaces:
                from: All
          - name: http-internal
            protocol: HTTP
            port: 8081
            allowedRoutes:
              namespaces:
                from: All
      ---
      apiVersion: gateway.networking.k8s.io/v1
      kind: HTTPRoute
      metadata:
        name: httpbin
        namespace: kgateway-system
      spec:
        parentRefs:
          - name: http
        hostnames:
          - www.example.com
        rules:
          - backendRefs:
              - name: httpbin
                port: 8000
      ---
      apiVersion: v1
      kind: Secret
      metadata:
        name: apikey
        namespace: kgateway-system
      stringData:
        client1: listener-key-40c8d1e2
      ---
      apiVersion: gateway.kgateway.dev/v1alpha1
      kind: TrafficPolicy
      metadata:
        name: internal-auth
        namespace: kgateway-system
      spec:
        targetRefs:
          - group: gateway.networking.k8s.io
            kind: Gateway
            name: http
            sectionName: http-internal
        apiKeyAuth:
          secretRef:
            name: apikey
      """
    When I send a GET request to "/headers" with:
      | part     | name | value |
      | listener |      | 8081  |
    Then the response status is 401
    When I send a GET request to "/headers" with:
      | part     | name    | value                 |
      | listener |         | 8081                  |
      | header   | api-key | listener-key-40c8d1e2 |
    Then the response status is 200
    When I send a GET request to "/headers"
    Then the response status is 200

  Scenario: A rule-level policy guards only the named rule
    Given the following resources are applied:
      """
      apiVersion: gateway.networking.k8s.io/v1
      kind: Gateway
      metadata:
        name: http
        namespace: kgateway-system
      spec:
        gatewayClassName: kgateway
        listeners:
          - name: http
            protocol: HTTP
            port: 8080
            allowedRoutes:
              namespaces:
                from: All
      ---
      apiVersion: gateway.networking.k8s.io/v1
      kind: HTTPRoute
      metadata:
        name: httpbin
        namespace: kgateway-system
      spec:
        parentRefs:
          - name: http
        hostnames:
          - www.example.com
        rules:
          - name: private
            matches:
              - path:
                  type: PathPrefix
                  value: /anything/private
            backendRefs:
              - name: httpbin
                port: 8000
          - name: public
            backendRefs:
              - name: httpbin
                port: 8000
      ---
      apiVersion: v1
      kind: Secret
      metadata:
        name: apikey
        namespace: kgateway-system
      stringData:
        client1: rule-key-9b3e0a77
      ---
      apiVersion: gateway.kgateway.dev/v1alpha1
      kind: TrafficPolicy
      metadata:
        name: private-auth
        namespace: kgateway-system
      spec:
        targetRefs:
          - group: gateway.networking.k8s.io
            kind: HTTPRoute
            name: httpbin
            sectionName: private
        apiKeyAuth:
          secretRef:
            name: apikey
      """
    When I send a GET request to "/anything/private/report"
    Then the response status is 401
    When I send a GET request to "/anything/private/report" with:
      | part   | name    | value             |
      | header | api-key | rule-key-9b3e0a77 |
    Then the response status is 200
    When I send a GET request to "/anything/public"
    Then the response status is 200

  Scenario: An ExtensionRef filter attaches a policy to its rule
    Given the following resources are applied:
      """
      apiVersion: gateway.networking.k8s.io/v1
      kind: Gateway
      metadata:
        name: http
        namespace: kgateway-system
      spec:
        gatewayClassName: kgateway
        listeners:
          - name: http
            protocol: HTTP
            port: 8080
            allowedRoutes:
              namespaces:
                from: All
      ---
      apiVersion: v1
      kind: Secret
      metadata:
        name: apikey
        namespace: kgateway-system
      stringData:
        client1: extref-key-5d6f0c2b
      ---
      apiVersion: gateway.kgateway.dev/v1alpha1
      kind: TrafficPolicy
      metadata:
        name: extref-auth
        namespace: kgateway-system
      spec:
        apiKeyAuth:
          secretRef:
            name: apikey
      ---
      apiVersion: gateway.networking.k8s.io/v1
      kind: HTTPRoute
      metadata:
        name: httpbin
        namespace: kgateway-system
      spec:
        parentRefs:
          - name: http
        hostnames:
          - www.example.com
        rules:
          - matches:
              - path:
                  type: PathPrefix
                  value: /anything/private
            filters:
              - type: ExtensionRef
                extensionRef:
                  group: gateway.kgateway.dev
                  kind: TrafficPolicy
                  name: extref-auth
            backendRefs:
              - name: httpbin
                port: 8000
          - backendRefs:
              - name: httpbin
                port: 8000
      """
    When I send a GET request to "/anything/private"
    Then the response status is 401
    When I send a GET request to "/anything/private" with:
      | part   | name    | value               |
      | header | api-key | extref-key-5d6f0c2b |
    Then the response status is 200
    When I send a GET request to "/anything/public"
    Then the response status is 200

  Scenario: A wrong key is rejected on the guarded rule and passed through untouched on the other
    Given the following resources are applied:
      """
      apiVersion: gateway.networking.k8s.io/v1
      kind: Gateway
      metadata:
        name: http
        namespace: kgateway-system
      spec:
        gatewayClassName: kgateway
        listeners:
          - name: http
            protocol: HTTP
            port: 8080
            allowedRoutes:
              namespaces:
                from: All
      ---
      apiVersion: gateway.networking.k8s.io/v1
      kind: HTTPRoute
      metadata:
        name: httpbin
        namespace: kgateway-system
      spec:
        parentRefs:
          - name: http
        hostnames:
          - www.example.com
        rules:
          - name: policy-attached
            matches:
              - path:
                  type: PathPrefix
                  value: /anything/attached
            backendRefs:
              - name: httpbin
                port: 8000
          - name: policy-not-attached
            matches:
              - path:
                  type: PathPrefix
                  value: /anything/not-attached
            backendRefs:
              - name: httpbin
                port: 8000
      ---
      apiVersion: v1
      kind: Secret
      metadata:
        name: apikey
        namespace: kgateway-system
      stringData:
        client1: section-key-1e2f
      ---
      apiVersion: gateway.kgateway.dev/v1alpha1
      kind: TrafficPolicy
      metadata:
        name: section-auth
        namespace: kgateway-system
      spec:
        targetRefs:
          - group: gateway.networking.k8s.io
            kind: HTTPRoute
            name: httpbin
            sectionName: policy-attached
        apiKeyAuth:
          secretRef:
            name: apikey
          keySources:
            - header: X-API-KEY
      """
    When I send a GET request to "/anything/attached" with:
      | part   | name      | value       |
      | header | X-API-KEY | invalid-key |
    Then the response status is 401
    When I send a GET request to "/anything/not-attached" with:
      | part   | name      | value       |
      | header | X-API-KEY | invalid-key |
    Then the response status is 200
    And the upstream receives header "x-api-key" with value "invalid-key"
    When I send a GET request to "/anything/attached" with:
      | part   | name      | value            |
      | header | X-API-KEY | section-key-1e2f |
    Then the response status is 200
    And the upstream receives no header "x-api-key"
