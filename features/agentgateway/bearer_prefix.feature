@agentgateway @APIKeyAuthBearerPrefix
Feature: agentgateway matches the Bearer prefix without regard to case
  The default location is the `Authorization` header with prefix `Bearer `, matched ASCII case-insensitively;
  a header without the prefix counts as no key at all.

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
        client1: agw-prefix-key-4d2a
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

  Scenario Outline: The prefix is matched in any case
    When I send a GET request to "/headers" with:
      | part   | name          | value   |
      | header | Authorization | <value> |
    Then the response status is 200

    Examples:
      | value                      |
      | Bearer agw-prefix-key-4d2a |
      | bearer agw-prefix-key-4d2a |
      | BEARER agw-prefix-key-4d2a |

  Scenario Outline: A header without the prefix counts as no key
    When I send a GET request to "/headers" with:
      | part   | name          | value   |
      | header | Authorization | <value> |
    Then the response status is 401
    And the response body is "api key authentication failure: no API Key found"

    Examples:
      | value                     |
      | agw-prefix-key-4d2a       |
      | Basic agw-prefix-key-4d2a |
