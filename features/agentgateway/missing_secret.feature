@agentgateway @APIKeyAuthMissingSecret
Feature: An agentgateway policy whose Secret does not exist fails closed
  With no Secret there are no keys: a Strict policy then rejects every request, with or without a key.

  Background:
    Given the gateway routes "www.example.com" to httpbin
    And the following resources are applied:
      """
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
              name: no-such-secret
      """

  Scenario: A request without a key is rejected
    When I send a GET request to "/headers"
    Then the response status is 401
    And the response body is "api key authentication failure: no API Key found"

  Scenario: Any key is rejected
    When I send a GET request to "/headers" with:
      | part   | name          | value                                                   |
      | header | Authorization | Bearer N2YwMDIxZTEtNGUzNS1jNzgzLTRkYjAtYjE2YzRkZGVmNjcy |
    Then the response status is 401
    And the response body is "api key authentication failure: invalid credentials"

  Scenario: Creating the Secret makes its key valid
    When the following resources are applied:
      """
      apiVersion: v1
      kind: Secret
      metadata:
        name: no-such-secret
        namespace: agentgateway-system
      stringData:
        client1: agw-late-secret-key-5e5e
      """
    And I send a GET request to "/headers" with:
      | part   | name          | value                           |
      | header | Authorization | Bearer agw-late-secret-key-5e5e |
    Then the response status is 200
