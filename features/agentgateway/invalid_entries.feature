@agentgateway @APIKeyAuthKeyMetadata
Feature: An agentgateway Secret whose entries are all invalid leaves a Strict policy with no keys
  A bad entry is dropped and reported, and the policy still applies with whatever is left: when nothing is left,
  the policy is `Accepted=True` with reason `PartiallyValid` and an empty key list, so Strict rejects every
  request (fail closed) until a valid entry appears.

  Ported from agentgateway/agentgateway controller/pkg/agentgateway/plugins/testdata/trafficpolicy/
  apikey-configmap-selector-raw-key-rejected.yaml (the only entry is refused: output `apiKeyAuth: {}`, condition
  Accepted=True PartiallyValid), with entries every release refuses (JSON that does not parse).

  Background:
    Given the gateway routes "www.example.com" to httpbin
    And the following resources are applied:
      """
      apiVersion: v1
      kind: Secret
      metadata:
        name: apikey
        namespace: agentgateway-system
      stringData:
        broken-one: '{"key": "agw-broken-key-0e1f"'
        broken-two: '{not json}'
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
            mode: Strict
            secretRef:
              name: apikey
      """

  Scenario: The policy is partially valid, names the bad entries, and rejects the key they tried to hold
    When I send a GET request to "/headers" with:
      | part   | name          | value                      |
      | header | Authorization | Bearer agw-broken-key-0e1f |
    Then the response status is 401
    And the response body is "api key authentication failure: invalid credentials"
    And the AgentgatewayPolicy "agentgateway-system/apikey-auth" has condition Accepted=True with reason PartiallyValid and a message containing "contains invalid key broken-one"
    And the AgentgatewayPolicy "agentgateway-system/apikey-auth" has condition Accepted=True with reason PartiallyValid and a message containing "contains invalid key broken-two"

  Scenario: A request without a key is rejected too
    When I send a GET request to "/headers"
    Then the response status is 401
    And the response body is "api key authentication failure: no API Key found"

  Scenario: A valid entry added to the Secret is accepted beside the bad ones
    When the following resources are applied:
      """
      apiVersion: v1
      kind: Secret
      metadata:
        name: apikey
        namespace: agentgateway-system
      stringData:
        broken-one: '{"key": "agw-broken-key-0e1f"'
        broken-two: '{not json}'
        good: agw-good-key-7a8b
      """
    And I send a GET request to "/headers" with:
      | part   | name          | value                    |
      | header | Authorization | Bearer agw-good-key-7a8b |
    Then the response status is 200
    And the AgentgatewayPolicy "agentgateway-system/apikey-auth" has condition Accepted=True with reason PartiallyValid and a message containing "contains invalid key broken-one"
