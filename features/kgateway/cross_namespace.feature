@kgateway @APIKeyAuthCrossNamespaceSecret
Feature: kgateway reads key Secrets from another namespace only with a ReferenceGrant
  A `secretRef` with another namespace needs a ReferenceGrant there, or the policy is invalid and its routes
  fail closed. A `secretSelector` silently skips Secrets in namespaces that grant nothing; if that leaves no
  Secret, the policy is invalid. The last two scenarios port kgateway-dev/kgateway
  pkg/kgateway/translator/gateway/testutils/{inputs,outputs}/traffic-policy/api-key-auth-selector-no-matching-secret.yaml
  (the only match is in a namespace without a grant: `failed to get secrets by selector: missing reference grant`,
  the route replaced by the 500 direct response) and the grant of api-key-auth-secretref-with-refgrant.yaml taken
  away again.

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

  Scenario: A selector whose only match is in a namespace without a grant is invalid and fails closed
    When the following resources are applied:
      """
      apiVersion: v1
      kind: Secret
      metadata:
        name: local-keys
        namespace: kgateway-system
        labels:
          keys-for: something-else
      stringData:
        local: local-ns-key-e5f6a7b8
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
    Then the response status is 500
    And the response body is "invalid route configuration detected and replaced with a direct response."
    And the TrafficPolicy "kgateway-system/apikey-auth" has condition Accepted=False with reason Invalid and a message containing "failed to get secrets by selector: missing reference grant"

  Scenario: Deleting the ReferenceGrant makes the secretRef policy invalid again
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
          clientIdHeader: x-authenticated-client
      """
    And I send a GET request to "/headers" with:
      | part   | name    | value                 |
      | header | api-key | cross-ns-key-a1b2c3d4 |
    Then the response status is 200
    And the upstream receives header "x-authenticated-client" with value "partner"
    When the following resources are deleted:
      """
      apiVersion: gateway.networking.k8s.io/v1beta1
      kind: ReferenceGrant
      metadata:
        name: allow-kgateway-policies
        namespace: team-keys
      """
    And I send a GET request to "/headers" with:
      | part   | name    | value                 |
      | header | api-key | cross-ns-key-a1b2c3d4 |
    Then the response status is 500
    And the TrafficPolicy "kgateway-system/apikey-auth" has condition Accepted=False with reason Invalid and a message containing "missing reference grant"
