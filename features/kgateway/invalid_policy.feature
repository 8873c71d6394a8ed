@kgateway @APIKeyAuthInvalidPolicy
Feature: A kgateway policy that cannot be applied is reported and fails closed
  A TrafficPolicy that fails to translate gets `Accepted=False` with reason `Invalid` and the error as its
  message; requests on the routes it attaches to get a 500 direct response, never an open route. Error
  messages name clients and Secrets, never key values.

  Background:
    Given the gateway routes "www.example.com" to httpbin

  # kgateway releases up to 2.4 pass duplicates on to Envoy, which rejects the whole route configuration.
  @requires:duplicate-keys
  Scenario: The same key under two clients is invalid, and the message does not reveal it
    When the following resources are applied:
      """
      apiVersion: v1
      kind: Secret
      metadata:
        name: keys-a
        namespace: kgateway-system
        labels:
          app: httpbin
      stringData:
        client-a: shared-duplicate-key-7e7e7e
      ---
      apiVersion: v1
      kind: Secret
      metadata:
        name: keys-b
        namespace: kgateway-system
        labels:
          app: httpbin
      stringData:
        client-b: shared-duplicate-key-7e7e7e
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
              app: httpbin
      """
    And I send a GET request to "/headers" with:
      | part   | name    | value                       |
      | header | api-key | shared-duplicate-key-7e7e7e |
    Then the response status is 500
    And the response body is "invalid route configuration detected and replaced with a direct response."
    And the TrafficPolicy "kgateway-system/apikey-auth" has condition Accepted=False with reason Invalid and a message containing "client-a"
    And the TrafficPolicy "kgateway-system/apikey-auth" has condition Accepted=False with reason Invalid and a message containing "client-b"
    And the TrafficPolicy "kgateway-system/apikey-auth" condition message does not contain "shared-duplicate-key-7e7e7e"

  Scenario: A Secret that does not exist makes the policy invalid
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
            name: no-such-secret
      """
    And I send a GET request to "/headers"
    Then the response status is 500
    And the TrafficPolicy "kgateway-system/apikey-auth" has condition Accepted=False with reason Invalid and a message containing "no-such-secret"

  Scenario: A Secret with only empty values holds no valid key
    When the following resources are applied:
      """
      apiVersion: v1
      kind: Secret
      metadata:
        name: empty-keys
        namespace: kgateway-system
      stringData:
        client1: ""
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
            name: empty-keys
      """
    And I send a GET request to "/headers"
    Then the response status is 500
    And the TrafficPolicy "kgateway-system/apikey-auth" has condition Accepted=False with reason Invalid and a message containing "no valid API keys found in secrets"

  # The route is replaced by a 500 direct response, but Envoy still runs the Gateway-level api_key_auth first:
  # without a key the request gets its 401 (observed on kgateway v2.3.6 with Envoy 1.38, the local target).
  Scenario: A route-level invalid policy does not fall back to the Gateway's valid policy
    When the following resources are applied:
      """
      apiVersion: v1
      kind: Secret
      metadata:
        name: apikey
        namespace: kgateway-system
      stringData:
        client1: gateway-valid-key-3c3c3c
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
            name: apikey
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
            name: httpbin
        apiKeyAuth:
          secretRef:
            name: no-such-secret
      """
    And I send a GET request to "/headers" with:
      | part   | name    | value                    |
      | header | api-key | gateway-valid-key-3c3c3c |
    Then the response status is 500
    And the TrafficPolicy "kgateway-system/gateway-auth" has condition Accepted=True with reason Valid
    When I send a GET request to "/headers"
    Then the response status is 401
