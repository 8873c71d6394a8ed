@agentgateway
Feature: agentgateway reads the key from the location the policy names
  `location` sets exactly one of a header (with an optional prefix), a query parameter or a cookie. On
  success the credential is removed from that location.

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
        client1: agw-location-key-83e1
      """

  @APIKeyAuthCustomHeader
  Scenario: A header location without a prefix takes the whole value
    When the following resources are applied:
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
            secretRef:
              name: apikey
            location:
              header:
                name: x-api-key
      """
    And I send a GET request to "/headers" with:
      | part   | name      | value                 |
      | header | X-API-Key | agw-location-key-83e1 |
    Then the response status is 200
    And the upstream receives no header "x-api-key"
    When I send a GET request to "/headers" with:
      | part   | name          | value                        |
      | header | Authorization | Bearer agw-location-key-83e1 |
    Then the response status is 401
    And the response body is "api key authentication failure: no API Key found"

  @APIKeyAuthCustomHeader
  Scenario: A header location with its own prefix
    When the following resources are applied:
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
            secretRef:
              name: apikey
            location:
              header:
                name: x-api-key
                prefix: "Key "
      """
    And I send a GET request to "/headers" with:
      | part   | name      | value                     |
      | header | X-API-Key | key agw-location-key-83e1 |
    Then the response status is 200
    When I send a GET request to "/headers" with:
      | part   | name      | value                 |
      | header | X-API-Key | agw-location-key-83e1 |
    Then the response status is 401
    And the response body is "api key authentication failure: no API Key found"

  @APIKeyAuthQuerySource
  Scenario: A query parameter location
    When the following resources are applied:
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
            secretRef:
              name: apikey
            location:
              queryParameter:
                name: api_key
      """
    And I send a GET request to "/anything" with:
      | part  | name    | value                 |
      | query | api_key | agw-location-key-83e1 |
      | query | page    | 2                     |
    Then the response status is 200
    And the upstream receives no query parameter "api_key"
    And the upstream receives query parameter "page" with value "2"
    When I send a GET request to "/anything" with:
      | part  | name    | value            |
      | query | api_key | wrong-key-000000 |
    Then the response status is 401
    And the response body is "api key authentication failure: invalid credentials"

  @APIKeyAuthCookieSource
  Scenario: A cookie location
    When the following resources are applied:
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
            secretRef:
              name: apikey
            location:
              cookie:
                name: auth_token
      """
    And I send a GET request to "/headers" with:
      | part   | name       | value                 |
      | cookie | auth_token | agw-location-key-83e1 |
      | cookie | session    | s1                    |
    Then the response status is 200
    And the upstream receives no cookie "auth_token"
    And the upstream receives cookie "session" with value "s1"
    When I send a GET request to "/headers"
    Then the response status is 401
    And the response body is "api key authentication failure: no API Key found"
