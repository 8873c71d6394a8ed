# The scenarios read the key from a query parameter (location, agentgateway v1.2.0) to send its newline.
@agentgateway @APIKeyAuth @since:agentgateway=v1.2.0
Feature: agentgateway uses a raw key exactly as stored, not trimmed
  A Secret entry that does not start with `{` is a raw key, and agentgateway's controller keeps its bytes as they
  are: only the test for JSON trims. `kubectl create secret generic --from-file` stores a file's trailing newline,
  so that newline is part of the key and a client sending the key without it is rejected (an erratum to the
  guides, which do not say so).
  Upstream: agentgateway/agentgateway v1.4.1 `controller/pkg/agentgateway/plugins/traffic_plugin.go`,
  processAPIKeyAuthenticationPolicy (a raw entry becomes `APIKeyEntry{Key: string(v)}`; `bytes.TrimSpace` only
  decides whether the value is empty or JSON).

  Background:
    Given the gateway routes "www.example.com" to httpbin
    And the following resources are applied:
      """
      apiVersion: v1
      kind: Secret
      metadata:
        name: apikey
        namespace: agentgateway-system
      data:
        from-file: YWd3LXJhdy1maWxlLWtleS05ZjJjCg==
      stringData:
        literal: agw-raw-literal-key-3e88
      ---
      apiVersion: agentgateway.dev/v1alpha1
      kind: AgentgatewayPolicy
      metadata:
        name: apikey-auth
        namespace: agentgateway-system
      spec:
        targetRefs:
          - group: gateway.networking.k8s.io
            kind: Gateway
            name: agentgateway-proxy
        traffic:
          apiKeyAuthentication:
            secretRef:
              name: apikey
            location:
              queryParameter:
                name: api_key
      """

  Scenario: A key stored with a trailing newline does not match the key without it
    When I send a GET request to "/anything" with:
      | part  | name    | value                 |
      | query | api_key | agw-raw-file-key-9f2c |
    Then the response status is 401
    And the response body is "api key authentication failure: invalid credentials"
    And the AgentgatewayPolicy "agentgateway-system/apikey-auth" has condition Accepted=True with reason Valid

  Scenario: The stored key, newline included, is accepted
    When I send a GET request to "/anything" with:
      | part  | name    | value                    |
      | query | api_key | agw-raw-file-key-9f2c%0A |
    Then the response status is 200

  Scenario: A key stored without a newline is accepted as sent
    When I send a GET request to "/anything" with:
      | part  | name    | value                    |
      | query | api_key | agw-raw-literal-key-3e88 |
    Then the response status is 200
