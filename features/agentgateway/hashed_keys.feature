@agentgateway @APIKeyAuthHashedKeys
Feature: agentgateway keys stored only as SHA-256 hashes
  A `keyHash: sha256:<hex>` entry authenticates the key whose digest it is, so the key itself need not be
  stored. ConfigMaps, which are not confidential, may hold only hashed keys.

  Background:
    Given the gateway routes "www.example.com" to httpbin

  Scenario: A Secret entry with keyHash accepts the key it hashes
    When the following resources are applied:
      """
      apiVersion: v1
      kind: Secret
      metadata:
        name: apikey
        namespace: agentgateway-system
      stringData:
        hashed: '{"keyHash": "sha256:4e0854d6f113f3e7401dffee50bb722bc9ffd099d9dd28bf26ba303f3686eadc", "metadata": {"name": "hashed"}}'
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
      | part   | name          | value                      |
      | header | Authorization | Bearer agw-hashed-key-6f3b |
    Then the response status is 200
    When I send a GET request to "/headers" with:
      | part   | name          | value                                                                          |
      | header | Authorization | Bearer sha256:4e0854d6f113f3e7401dffee50bb722bc9ffd099d9dd28bf26ba303f3686eadc |
    Then the response status is 401

  Scenario: A ConfigMap of hashed keys chosen by label
    When the following resources are applied:
      """
      apiVersion: v1
      kind: ConfigMap
      metadata:
        name: hashed-keys
        namespace: agentgateway-system
        labels:
          keys-for: httpbin
      data:
        partner: '{"keyHash": "sha256:ea6e20f0cfb99fa2910239ea58982f4c6df4d96b03c4dbf1192f491c7f36ccdb"}'
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
                keys-for: httpbin
      """
    And I send a GET request to "/headers" with:
      | part   | name          | value                         |
      | header | Authorization | Bearer agw-configmap-key-91ce |
    Then the response status is 200
    And the AgentgatewayPolicy "agentgateway-system/apikey-auth" has condition Accepted=True with reason Valid

  Scenario: A raw key in a ConfigMap is refused
    When the following resources are applied:
      """
      apiVersion: v1
      kind: ConfigMap
      metadata:
        name: hashed-keys
        namespace: agentgateway-system
        labels:
          keys-for: httpbin
      data:
        partner: '{"keyHash": "sha256:ea6e20f0cfb99fa2910239ea58982f4c6df4d96b03c4dbf1192f491c7f36ccdb"}'
        careless: agw-raw-in-cm-key-0000
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
                keys-for: httpbin
      """
    And I send a GET request to "/headers" with:
      | part   | name          | value                         |
      | header | Authorization | Bearer agw-raw-in-cm-key-0000 |
    Then the response status is 401
    And the AgentgatewayPolicy "agentgateway-system/apikey-auth" has condition Accepted=True with reason PartiallyValid and a message containing "keys sourced from a ConfigMap must use keyHash"
    When I send a GET request to "/headers" with:
      | part   | name          | value                         |
      | header | Authorization | Bearer agw-configmap-key-91ce |
    Then the response status is 200
