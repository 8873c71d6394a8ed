@agentgateway @APIKeyAuthHashedKeys
Feature: agentgateway keyHash entries: upper-case hex, and the exact reasons a hash is refused
  A `keyHash` is `sha256:` and 64 hex digits; the digits may be upper-case (the proxy lower-cases them). A hash in
  another form is refused with its reason, `<kind> <name> contains invalid key <entry>: <why>`, kind `secret` or
  `configMap` and the bare name, and a ConfigMap may not hold a raw key.
  Upstream: agentgateway/agentgateway v1.4.1 `crates/agentgateway/src/http/apikey_tests.rs`
  test_apikey_sha256_extracts_and_strips and test_apikey_sha256_serializes_with_prefix (an upper-case
  `sha256:4C80...` hash authenticates its key); `controller/pkg/agentgateway/plugins/traffic_plugin.go`
  validateAPIKeyHash and processAPIKeyAuthenticationPolicy (the messages); golden test
  `controller/pkg/agentgateway/plugins/testdata/trafficpolicy/apikey-configmap-selector-raw-key-rejected.yaml`
  (the ConfigMap raw-key message).

  Background:
    Given the gateway routes "www.example.com" to httpbin

  Scenario: An upper-case hex digest authenticates the key it hashes
    When the following resources are applied:
      """
      apiVersion: v1
      kind: Secret
      metadata:
        name: apikey
        namespace: agentgateway-system
      stringData:
        upper: '{"keyHash": "sha256:43316AF7D82D6CF849C9E1C81E7770BAA7D7BD67FFA243890EB2D84F962012A6"}'
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
      | header | Authorization | Bearer agw-upper-hash-key-71d0 |
    Then the response status is 200
    And the upstream receives no header "Authorization"
    And the AgentgatewayPolicy "agentgateway-system/apikey-auth" has condition Accepted=True with reason Valid

  Scenario Outline: A hash in another form is refused with its reason
    When the following resources are applied:
      """
      apiVersion: v1
      kind: Secret
      metadata:
        name: apikey
        namespace: agentgateway-system
      stringData:
        good: agw-hash-good-key-5b12
        bad: '{"keyHash": "<hash>"}'
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
      | part   | name          | value                         |
      | header | Authorization | Bearer agw-hash-good-key-5b12 |
    Then the response status is 200
    And the AgentgatewayPolicy "agentgateway-system/apikey-auth" condition message is "secret apikey contains invalid key bad: <message>"

    Examples:
      | hash                                                                     | message                                                                           |
      | md5:43316af7d82d6cf849c9e1c81e7770ba                                     | keyHash must use the sha256:<hex> format                                          |
      | SHA256:43316AF7D82D6CF849C9E1C81E7770BAA7D7BD67FFA243890EB2D84F962012A6  | keyHash must use the sha256:<hex> format                                          |
      | sha256:43316af7d82d6cf849c9e1c81e7770ba                                  | keyHash sha256 digest must decode to 32 bytes                                     |
      | sha256:43316af7d82d6cf849c9e1c81e7770baa7d7bd67ffa243890eb2d84f962012a   | keyHash must contain a valid sha256 hex digest: encoding/hex: odd length hex string |
      | sha256:zz316af7d82d6cf849c9e1c81e7770baa7d7bd67ffa243890eb2d84f962012a6  | keyHash must contain a valid sha256 hex digest: encoding/hex: invalid byte: U+007A 'z' |

  Scenario: A raw key in a ConfigMap is refused with upstream's exact message
    When the following resources are applied:
      """
      apiVersion: v1
      kind: ConfigMap
      metadata:
        name: apikey-hashes
        namespace: agentgateway-system
        labels:
          app: agw-hashes
      data:
        hashed: '{"keyHash": "sha256:43316af7d82d6cf849c9e1c81e7770baa7d7bd67ffa243890eb2d84f962012a6"}'
        raw: agw-configmap-raw-key-0e4d
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
            configMapSelector:
              matchLabels:
                app: agw-hashes
      """
    And I send a GET request to "/headers" with:
      | part   | name          | value                          |
      | header | Authorization | Bearer agw-upper-hash-key-71d0 |
    Then the response status is 200
    And the AgentgatewayPolicy "agentgateway-system/apikey-auth" has condition Accepted=True with reason PartiallyValid
    And the AgentgatewayPolicy "agentgateway-system/apikey-auth" condition message is "configMap apikey-hashes contains invalid key raw: keys sourced from a ConfigMap must use keyHash, not a raw key, since ConfigMaps are not confidential"
    When I send a GET request to "/headers" with:
      | part   | name          | value                             |
      | header | Authorization | Bearer agw-configmap-raw-key-0e4d |
    Then the response status is 401
