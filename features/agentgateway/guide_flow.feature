@agentgateway @APIKeyAuth
Feature: agentgateway API key auth, the guide's flow
  The agentgateway guide stores one key in a Secret, attaches a Strict AgentgatewayPolicy to the Gateway by
  secretRef, and sends the key in the `Authorization` header with a `Bearer ` prefix.

  Background:
    Given the gateway routes "www.example.com" to httpbin
    And the following resources are applied:
      """
      apiVersion: v1
      kind: Secret
      metadata:
        name: apikey
        namespace: agentgateway-system
        labels:
          app: httpbin
      type: extauth.solo.io/apikey
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
            mode: Strict
            secretRef:
              name: apikey
      """

  Scenario: A request without a key is rejected with 401
    When I send a GET request to "/headers"
    Then the response status is 401
    And the response body is "api key authentication failure: no API Key found"
    And the response header "content-type" starts with "text/plain"
    And the response has no header "www-authenticate"

  Scenario: A request with the guide's key is forwarded and the key is removed
    When I send a GET request to "/headers" with:
      | part   | name          | value                                                   |
      | header | Authorization | Bearer N2YwMDIxZTEtNGUzNS1jNzgzLTRkYjAtYjE2YzRkZGVmNjcy |
    Then the response status is 200
    And the upstream receives header "host" with value "www.example.com"
    And the upstream receives no header "authorization"

  Scenario: A wrong key is rejected with 401
    When I send a GET request to "/headers" with:
      | part   | name          | value                    |
      | header | Authorization | Bearer not-the-right-key |
    Then the response status is 401
    And the response body is "api key authentication failure: invalid credentials"

  Scenario: The policy is accepted
    Then the AgentgatewayPolicy "agentgateway-system/apikey-auth" has condition Accepted=True with reason Valid

  Scenario: The key is not required after the policy is deleted
    When the AgentgatewayPolicy "agentgateway-system/apikey-auth" is deleted
    And I send a GET request to "/headers"
    Then the response status is 200
