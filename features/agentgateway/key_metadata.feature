@agentgateway @APIKeyAuthKeyMetadata
Feature: agentgateway key entries with metadata, and partially valid Secrets
  An entry whose value starts with `{` is JSON with a `key` (or `keyHash`) and optional `metadata`. A bad
  entry is dropped while the valid ones still apply, and the policy reports `PartiallyValid`.

  Background:
    Given the gateway routes "www.example.com" to httpbin

  Scenario: A JSON entry with metadata authenticates with its key
    When the following resources are applied:
      """
      apiVersion: v1
      kind: Secret
      metadata:
        name: apikey
        namespace: agentgateway-system
      stringData:
        alice: '{"key": "agw-json-key-1a7f", "metadata": {"name": "alice", "tier": "gold"}}'
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
      """
    And I send a GET request to "/headers" with:
      | part   | name          | value                    |
      | header | Authorization | Bearer agw-json-key-1a7f |
    Then the response status is 200
    And the AgentgatewayPolicy "agentgateway-system/apikey-auth" has condition Accepted=True with reason Valid

  # "exactly one of key or keyHash" is a v1.4.0 entry rule.
  @requires:key-hash
  Scenario: A bad entry is dropped, the good ones still work, and the policy is partially valid
    When the following resources are applied:
      """
      apiVersion: v1
      kind: Secret
      metadata:
        name: apikey
        namespace: agentgateway-system
      stringData:
        good: agw-good-entry-key-3b9d
        broken: "   "
        both: '{"key": "agw-both-key-x", "keyHash": "sha256:4e0854d6f113f3e7401dffee50bb722bc9ffd099d9dd28bf26ba303f3686eadc"}'
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
      """
    And I send a GET request to "/headers" with:
      | part   | name          | value                          |
      | header | Authorization | Bearer agw-good-entry-key-3b9d |
    Then the response status is 200
    And the AgentgatewayPolicy "agentgateway-system/apikey-auth" has condition Accepted=True with reason PartiallyValid and a message containing "contains invalid key broken: empty value"
    And the AgentgatewayPolicy "agentgateway-system/apikey-auth" has condition Accepted=True with reason PartiallyValid and a message containing "exactly one of key or keyHash must be set"
