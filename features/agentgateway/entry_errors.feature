@agentgateway @APIKeyAuthKeyMetadata
Feature: agentgateway reads JSON key entries as Go's json.Unmarshal does, and names each bad entry
  A JSON entry is decoded into `{key, keyHash, metadata}` by Go's `encoding/json`: fields it does not know are
  ignored (the entry stays valid), names match case-insensitively, and a syntax or type error is Go's own message.
  Each bad entry is reported as `<kind> <name> contains invalid key <entry>: <why>`, kind `secret` and the Secret's
  bare name, in a `PartiallyValid` status while the valid entries still apply.
  Upstream: agentgateway/agentgateway v1.4.1 `controller/pkg/agentgateway/plugins/traffic_plugin.go`,
  processAPIKeyAuthenticationPolicy (`json.Unmarshal(trimmed, &ke)` into APIKeyEntry; the `%s %v contains invalid
  key %v: ...` errors); its golden test `controller/pkg/agentgateway/plugins/testdata/trafficpolicy/
  apikey-configmap-selector-raw-key-rejected.yaml` shows the message form in a PartiallyValid status.

  Background:
    Given the gateway routes "www.example.com" to httpbin

  Scenario Outline: One bad entry is dropped with its exact message, and the good entry still works
    When the following resources are applied:
      """
      apiVersion: v1
      kind: Secret
      metadata:
        name: apikey
        namespace: agentgateway-system
      stringData:
        good: agw-entry-good-key-0c5a
        bad: '<value>'
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
      | header | Authorization | Bearer agw-entry-good-key-0c5a |
    Then the response status is 200
    And the AgentgatewayPolicy "agentgateway-system/apikey-auth" has condition Accepted=True with reason PartiallyValid
    And the AgentgatewayPolicy "agentgateway-system/apikey-auth" condition message is "secret apikey contains invalid key bad: <message>"

    Examples:
      | value                                                 | message                                                                                         |
      | {"key": 5}                                            | json: cannot unmarshal number into Go struct field APIKeyEntry.key of type string               |
      | {"key": ["agw-bad-entry-key-d41c"]}                   | json: cannot unmarshal array into Go struct field APIKeyEntry.key of type string                |
      | {"key": "agw-bad-entry-key-d41c"                      | unexpected end of JSON input                                                                    |
      | {"key": "agw-bad-entry-key-d41c",}                    | invalid character '}' looking for beginning of object key string                                |
      | {key: "agw-bad-entry-key-d41c"}                       | invalid character 'k' looking for beginning of object key string                                |
      | {"key" "agw-bad-entry-key-d41c"}                      | invalid character '"' after object key                                                          |
      | {"key": "agw-bad-entry-key-d41c"} extra               | invalid character 'e' after top-level value                                                     |
      | {"key": "agw-bad-entry-key-d41c", "metadata": "team"} | bad StructValue: json: cannot unmarshal string into Go value of type map[string]json.RawMessage |

  Scenario: Fields an entry does not define are ignored, and names match whatever their case
    When the following resources are applied:
      """
      apiVersion: v1
      kind: Secret
      metadata:
        name: apikey
        namespace: agentgateway-system
      stringData:
        extra: '{"key": "agw-entry-extra-key-77b1", "team": "payments", "metadata": {"name": "extra"}}'
        shouting: '{"KEY": "agw-entry-shouting-key-2f90"}'
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
      | part   | name          | value                             |
      | header | Authorization | Bearer agw-entry-extra-key-77b1 |
    Then the response status is 200
    And the AgentgatewayPolicy "agentgateway-system/apikey-auth" has condition Accepted=True with reason Valid
    When I send a GET request to "/headers" with:
      | part   | name          | value                              |
      | header | Authorization | Bearer agw-entry-shouting-key-2f90 |
    Then the response status is 200
