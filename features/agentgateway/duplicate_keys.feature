@agentgateway @APIKeyAuthSecretSelector
Feature: agentgateway accepts the same key in two selected Secrets without complaint
  agentgateway does not look for duplicate keys: two entries holding the same key both load, the key
  authenticates, and the policy stays `Accepted=True`, `Valid`. Which entry's metadata becomes the caller's
  identity is unspecified upstream ("the behavior is undefined"), so only authentication is checked.

  From agentgateway/agentgateway controller/pkg/agentgateway/plugins/traffic_plugin.go
  (processAPIKeyAuthenticationPolicy appends every entry, no duplicate check) and the secretSelector field
  documentation in controller/api/v1alpha1/agentgateway/agentgateway_policy_types.go (tag v1.4.1).

  Background:
    Given the gateway routes "www.example.com" to httpbin
    And the following resources are applied:
      """
      apiVersion: v1
      kind: Secret
      metadata:
        name: team-a
        namespace: agentgateway-system
        labels:
          app: httpbin
      stringData:
        alice: agw-dup-key-1110
      ---
      apiVersion: v1
      kind: Secret
      metadata:
        name: team-b
        namespace: agentgateway-system
        labels:
          app: httpbin
      stringData:
        bob: '{"key": "agw-dup-key-1110", "metadata": {"name": "bob"}}'
        carol: agw-dup-key-2220
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
            secretSelector:
              matchLabels:
                app: httpbin
      """

  Scenario: A key held by two Secrets authenticates and the policy stays valid
    When I send a GET request to "/headers" with:
      | part   | name          | value                   |
      | header | Authorization | Bearer agw-dup-key-1110 |
    Then the response status is 200
    And the AgentgatewayPolicy "agentgateway-system/apikey-auth" has condition Accepted=True with reason Valid

  Scenario: Removing one of the two Secrets leaves the key working
    When the Secret "agentgateway-system/team-a" is deleted
    And I send a GET request to "/headers" with:
      | part   | name          | value                   |
      | header | Authorization | Bearer agw-dup-key-1110 |
    Then the response status is 200

  # keyHash entries are a v1.4.0 addition.
  @requires:key-hash
  Scenario: A raw key and a keyHash of the same key authenticate together
    When the following resources are applied:
      """
      apiVersion: v1
      kind: Secret
      metadata:
        name: team-c
        namespace: agentgateway-system
        labels:
          app: httpbin
      stringData:
        dave: '{"keyHash": "sha256:71c9db074ba5e8c267d80d59b5cb797370fffd9132f65651d231e4a94b233d06"}'
      """
    And I send a GET request to "/headers" with:
      | part   | name          | value                   |
      | header | Authorization | Bearer agw-dup-key-2220 |
    Then the response status is 200
    And the AgentgatewayPolicy "agentgateway-system/apikey-auth" has condition Accepted=True with reason Valid
