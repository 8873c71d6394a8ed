@agentgateway @APIKeyAuthOptionalMode
Feature: agentgateway Optional mode
  Optional validates a key when one is present but lets requests without a key through.

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
        api-key: N2YwMDIxZTEtNGUzNS1jNzgzLTRkYjAtYjE2YzRkZGVmNjcy
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
            mode: Optional
            secretRef:
              name: apikey
      """

  Scenario: No key is let through
    When I send a GET request to "/headers"
    Then the response status is 200

  Scenario: An invalid key is still rejected
    When I send a GET request to "/headers" with:
      | part   | name          | value                   |
      | header | Authorization | Bearer wrong-key-000000 |
    Then the response status is 401
    And the response body is "api key authentication failure: invalid credentials"

  Scenario: A valid key is accepted and removed
    When I send a GET request to "/headers" with:
      | part   | name          | value                                                   |
      | header | Authorization | Bearer N2YwMDIxZTEtNGUzNS1jNzgzLTRkYjAtYjE2YzRkZGVmNjcy |
    Then the response status is 200
    And the upstream receives no header "authorization"

  Scenario: An Authorization header of another scheme counts as no key
    When I send a GET request to "/headers" with:
      | part   | name          | value          |
      | header | Authorization | Basic dXNlcjpw |
    Then the response status is 200
    And the upstream receives header "authorization" with value "Basic dXNlcjpw"
