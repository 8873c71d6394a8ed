@kgateway @APIKeyAuthDisable
Feature: kgateway switches auth off for one route under a Gateway-wide policy
  `disable: {}` on an HTTPRoute is more specific than the Gateway's policy, so it wins for that route only.

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
        api-key: N2YwMDIxZTEtNGUzNS1jNzgzLTRkYjAtYjE2YzRkZGVmNjcy
      ---
      apiVersion: gateway.networking.k8s.io/v1
      kind: HTTPRoute
      metadata:
        name: httpbin-open
        namespace: kgateway-system
      spec:
        parentRefs:
          - name: http
        hostnames:
          - open.example.com
        rules:
          - backendRefs:
              - name: httpbin
                port: 8000
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
      ---
      apiVersion: gateway.kgateway.dev/v1alpha1
      kind: TrafficPolicy
      metadata:
        name: apikey-auth-disable
        namespace: kgateway-system
      spec:
        targetRefs:
          - group: gateway.networking.k8s.io
            kind: HTTPRoute
            name: httpbin-open
        apiKeyAuth:
          disable: {}
      """

  Scenario: The disabled route needs no key
    When I send a GET request to "/headers" with:
      | part | name | value            |
      | host |      | open.example.com |
    Then the response status is 200

  Scenario: The other route still needs a key
    When I send a GET request to "/headers"
    Then the response status is 401

  Scenario: Removing the disable policy puts the route back under the Gateway's policy
    When the TrafficPolicy "kgateway-system/apikey-auth-disable" is deleted
    And I send a GET request to "/headers" with:
      | part | name | value            |
      | host |      | open.example.com |
    Then the response status is 401
