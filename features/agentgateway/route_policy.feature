@agentgateway @APIKeyAuthKeyMetadata
Feature: An agentgateway policy on an HTTPRoute, with raw and JSON key entries written as block scalars
  A Strict policy targeting one HTTPRoute guards that route only. Its Secret mixes a raw key with JSON entries
  written as YAML block scalars (each value ends in a newline): an entry whose value starts with `{` is read as
  JSON, and the key inside it is what the client presents.

  Ported from agentgateway/agentgateway controller/test/e2e/apikeyauth_test.go, testApiKeyAuthRoutePolicy
  (testdata apikeyauth/insecure-route.yaml and secured-route.yaml: client1 JSON with metadata group sales, client2
  raw, client3 JSON keyHash with metadata group engineering; requests send `Authorization: Bearer <key>`).

  Background:
    Given the gateway routes "www.example.com" to httpbin
    And the following resources are applied:
      """
      apiVersion: gateway.networking.k8s.io/v1
      kind: HTTPRoute
      metadata:
        name: route-secure
        namespace: agentgateway-system
      spec:
        parentRefs:
          - name: agentgateway-proxy
        hostnames:
          - secureroute.example.com
        rules:
          - backendRefs:
              - name: httpbin
                port: 8000
      ---
      apiVersion: agentgateway.dev/v1alpha1
      kind: AgentgatewayPolicy
      metadata:
        name: route-policy
        namespace: agentgateway-system
      spec:
        targetRefs:
          - group: gateway.networking.k8s.io
            kind: HTTPRoute
            name: route-secure
        traffic:
          apiKeyAuthentication:
            mode: Strict
            secretRef:
              name: route-apikey-auth
      ---
      apiVersion: v1
      kind: Secret
      metadata:
        name: route-apikey-auth
        namespace: agentgateway-system
      stringData:
        client1: |
          {
            "key": "agw-route-key-1230",
            "metadata": {
              "group": "sales"
            }
          }
        client2: "agw-route-key-4560"
      """

  Scenario: A route without a policy needs no key
    When I send a GET request to "/headers"
    Then the response status is 200

  Scenario Outline: The raw key and the key inside the JSON entry are both accepted and removed
    When I send a GET request to "/headers" with:
      | part   | name          | value                   |
      | host   |               | secureroute.example.com |
      | header | Authorization | Bearer <key>            |
    Then the response status is 200
    And the upstream receives no header "authorization"

    Examples:
      | key                |
      | agw-route-key-1230 |
      | agw-route-key-4560 |

  Scenario: An unknown key is rejected as invalid
    When I send a GET request to "/headers" with:
      | part   | name          | value                   |
      | host   |               | secureroute.example.com |
      | header | Authorization | Bearer nosuchkey        |
    Then the response status is 401
    And the response body is "api key authentication failure: invalid credentials"

  Scenario: A request without a key is rejected as missing one
    When I send a GET request to "/headers" with:
      | part | name | value                   |
      | host |      | secureroute.example.com |
    Then the response status is 401
    And the response body is "api key authentication failure: no API Key found"

  # keyHash entries are a v1.4.0 addition.
  @requires:key-hash
  Scenario: A keyHash entry written as a block scalar accepts the key it hashes
    When the following resources are applied:
      """
      apiVersion: v1
      kind: Secret
      metadata:
        name: route-apikey-auth
        namespace: agentgateway-system
      stringData:
        client1: |
          {
            "key": "agw-route-key-1230",
            "metadata": {
              "group": "sales"
            }
          }
        client2: "agw-route-key-4560"
        client3: |
          {
            "keyHash": "sha256:c4693625d17a0c0fb6952ab9a5c5e52018eb7783425c288616e2cf84fb1e6288",
            "metadata": {
              "group": "engineering"
            }
          }
      """
    And I send a GET request to "/headers" with:
      | part   | name          | value                     |
      | host   |               | secureroute.example.com   |
      | header | Authorization | Bearer agw-route-key-7890 |
    Then the response status is 200
    And the AgentgatewayPolicy "agentgateway-system/route-policy" has condition Accepted=True with reason Valid
