@kgateway @APIKeyAuthCrossNamespaceSecret
Feature: kgateway reads key Secrets from another namespace only with a ReferenceGrant
  A `secretRef` with another namespace needs a ReferenceGrant there, or the policy is invalid and its routes
  fail closed. A `secretSelector` silently skips Secrets in namespaces that grant nothing.

  Background:
    Given the gateway routes "www.example.com" to httpbin
    And the following resources are applied:
      """
      apiVersion: v1
      kind: Secret
      metadata:
        name: shared-keys
        namespace: team-keys
        labels:
          keys-for: httpbin
      stringData:
        partner: cross-ns-key-a1b2c3d4
      ---
      apiVersion: v1
      kind: Secret
      metadata:
        name: local-keys
        namespace: kgateway-system
        labels:
          keys-for: httpbin
      stringData:
        local: local-ns-key-e5f6a7b8
      """

  Scenario: A secretRef into another namespace without a grant is invalid and fails closed
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
            name: shared-keys
            namespace: team-keys
      """
    And I send a GET request to "/headers" with:
      | part   | name    | value                 |
      | header | api-key | cross-ns-key-a1b2c3d4 |
    Then the response status is 500
    And the response body is "invalid route configuration detected and replaced with a direct response."
    And the TrafficPolicy "kgateway-system/apikey-auth" has condition Accepted=False with reason Invalid and a message containing "missing reference grant"

  Scenario: A ReferenceGrant in the Secret's namespace allows the secretRef
    When the following resources are applied:
      """
      apiVersion: gateway.networking.k8s.io/v1beta1
      kind: ReferenceGrant
      metadata:
        name: allow-kgateway-policies
        namespace: team-keys
      spec:
        from:
          - group: gateway.kgateway.dev
            kind: TrafficPolicy
            namespace: kgateway-system
        to:
          - group: ""
            kind: Secret
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
            name: shared-keys
            namespace: team-keys
      """
    And I send a GET request to "/headers" with:
      | part   | name    | value                 |
      | header | api-key | cross-ns-key-a1b2c3d4 |
    Then the response status is 200
    And the TrafficPolicy "kgateway-system/apikey-auth" has condition Accepted=True with reason Valid

  Scenario: A selector skips Secrets in namespaces without a grant
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
          secretSelector:
            matchLabels:
              keys-for: httpbin
      """
    And I send a GET request to "/headers" with:
      | part   | name    | value                 |
      | header | api-key | cross-ns-key-a1b2c3d4 |
    Then the response status is 401
    When I send a GET request to "/headers" with:
      | part   | name    | value                 |
      | header | api-key | local-ns-key-e5f6a7b8 |
    Then the response status is 200

  Scenario: A selector reads Secrets in namespaces that grant access
    When the following resources are applied:
      """
      apiVersion: gateway.networking.k8s.io/v1beta1
      kind: ReferenceGrant
      metadata:
        name: allow-kgateway-policies
        namespace: team-keys
      spec:
        from:
          - group: gateway.kgateway.dev
            kind: TrafficPolicy
            namespace: kgateway-system
        to:
          - group: ""
            kind: Secret
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
          secretSelector:
            matchLabels:
              keys-for: httpbin
      """
    And I send a GET request to "/headers" with:
      | part   | name    | value                 |
      | header | api-key | cross-ns-key-a1b2c3d4 |
    Then the response status is 200
