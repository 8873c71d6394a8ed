@kgateway @APIKeyAuth
Feature: kgateway API key auth, the guide's flow
  The kgateway guide stores one key in a Secret, attaches a TrafficPolicy to the Gateway by secretRef and
  sends the key in the default `api-key` header with a `Bearer ` prefix.

  Background:
    Given the gateway routes "www.example.com" to httpbin
    And the following resources are applied:
      """
      apiVersion: v1
      kind: Secret
      metadata:
        name: apikey
        namespace: kgateway-system
        labels:
          app: httpbin
      type: extauth.solo.io/apikey
      stringData:
        api-key: N2YwMDIxZTEtNGUzNS1jNzgzLTRkYjAtYjE2YzRkZGVmNjcy
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
            name: apikey
      """

  Scenario: A request without a key is rejected with 401
    When I send a GET request to "/headers"
    Then the response status is 401
    And the response body is "Client authentication failed."
    And the response header "content-type" starts with "text/plain"
    And the response has no header "www-authenticate"

  Scenario: A request with the guide's key is forwarded and the key is hidden from the upstream
    When I send a GET request to "/headers" with:
      | part   | name    | value                                                   |
      | header | api-key | Bearer N2YwMDIxZTEtNGUzNS1jNzgzLTRkYjAtYjE2YzRkZGVmNjcy |
    Then the response status is 200
    And the upstream receives header "host" with value "www.example.com"
    And the upstream receives no header "api-key"

  Scenario: The key without the Bearer prefix is accepted too
    When I send a GET request to "/headers" with:
      | part   | name    | value                                            |
      | header | api-key | N2YwMDIxZTEtNGUzNS1jNzgzLTRkYjAtYjE2YzRkZGVmNjcy |
    Then the response status is 200

  Scenario: A wrong key is rejected with 401
    When I send a GET request to "/headers" with:
      | part   | name    | value                  |
      | header | api-key | Bearer not-the-right-key |
    Then the response status is 401
    And the response body is "Client authentication failed."

  Scenario: The policy is accepted
    Then the TrafficPolicy "kgateway-system/apikey-auth" has condition Accepted=True with reason Valid

  Scenario: The key is not required after the policy is deleted
    When the TrafficPolicy "kgateway-system/apikey-auth" is deleted
    And I send a GET request to "/headers"
    Then the response status is 200
