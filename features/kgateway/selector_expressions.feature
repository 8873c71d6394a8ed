# matchExpressions is newer than every kgateway release so far (conformance/feature_releases.yaml).
@kgateway @APIKeyAuthSecretSelector @requires:secret-selector-expressions
Feature: kgateway selects key Secrets by label selector expressions
  kgateway's newest API gives `secretSelector` the `matchExpressions` of a Kubernetes label selector: each
  requirement is `In`, `NotIn`, `Exists` or `DoesNotExist`, and all of them and every `matchLabels` pair must hold.
  Upstream: kgateway-dev/kgateway commit 65b71a96 (`api/v1alpha1/kgateway/traffic_policy_types.go`, secretSelector
  with matchExpressions) and its translator golden test `api-key-auth-selector-matchexpressions`
  (`pkg/kgateway/translator/gateway/testutils/inputs/traffic-policy/api-key-auth-selector-matchexpressions.yaml`
  and `outputs/traffic-policy/api-key-auth-selector-matchexpressions.yaml`: `app In [api-keys]` and
  `tier NotIn [dev]` select only the Secret labelled app=api-keys, tier=prod). The operators are Kubernetes'
  (kubernetes/apimachinery `pkg/apis/meta/v1/helpers.go`, LabelSelectorAsSelector).

  Background:
    Given the gateway routes "www.example.com" to httpbin
    And the following resources are applied:
      """
      apiVersion: v1
      kind: Secret
      metadata:
        name: api-keys-1
        namespace: kgateway-system
        labels:
          app: api-keys
          tier: prod
      stringData:
        client1: expr-key-prod-41c9
      ---
      apiVersion: v1
      kind: Secret
      metadata:
        name: api-keys-2
        namespace: kgateway-system
        labels:
          app: api-keys
          tier: dev
      stringData:
        client2: expr-key-dev-8a03
      ---
      apiVersion: v1
      kind: Secret
      metadata:
        name: api-keys-3
        namespace: kgateway-system
        labels:
          app: other
          tier: prod
      stringData:
        client3: expr-key-other-2d7e
      ---
      apiVersion: v1
      kind: Secret
      metadata:
        name: api-keys-4
        namespace: kgateway-system
        labels:
          app: api-keys
      stringData:
        client4: expr-key-untiered-c615
      """

  Scenario Outline: In and NotIn select as the translator golden does
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
            matchExpressions:
              - key: app
                operator: In
                values: [api-keys]
              - key: tier
                operator: NotIn
                values: [dev]
      """
    And I send a GET request to "/headers" with:
      | part   | name    | value |
      | header | api-key | <key> |
    Then the response status is <status>

    Examples:
      | key                    | status |
      | expr-key-prod-41c9     | 200    |
      | expr-key-dev-8a03      | 401    |
      | expr-key-other-2d7e    | 401    |
      | expr-key-untiered-c615 | 200    |

  Scenario Outline: Exists and DoesNotExist test only whether the label is there
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
              app: api-keys
            matchExpressions:
              - key: tier
                operator: <operator>
      """
    And I send a GET request to "/headers" with:
      | part   | name    | value |
      | header | api-key | <key> |
    Then the response status is <status>

    Examples:
      | operator     | key                    | status |
      | Exists       | expr-key-prod-41c9     | 200    |
      | Exists       | expr-key-dev-8a03      | 200    |
      | Exists       | expr-key-untiered-c615 | 401    |
      | Exists       | expr-key-other-2d7e    | 401    |
      | DoesNotExist | expr-key-untiered-c615 | 200    |
      | DoesNotExist | expr-key-prod-41c9     | 401    |

  Scenario: A selector nothing matches fails closed, and its status shows the expressions
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
              app: api-keys
            matchExpressions:
              - key: tier
                operator: In
                values: [staging, qa]
      """
    And I send a GET request to "/headers" with:
      | part   | name    | value              |
      | header | api-key | expr-key-prod-41c9 |
    Then the response status is 500
    And the response body is "invalid route configuration detected and replaced with a direct response."
    And the TrafficPolicy "kgateway-system/apikey-auth" has condition Accepted=False with reason Invalid and a message containing "no secrets found matching selector (matchLabels: map[app:api-keys], matchExpressions: [{tier In [staging qa]}]) in namespace kgateway-system"
