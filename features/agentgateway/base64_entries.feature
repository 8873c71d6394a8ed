@agentgateway @APIKeyAuthKeyMetadata
Feature: agentgateway reads key entries from a Secret's base64 `data`
  A Secret's `data` holds base64: each entry is decoded first, then read like a `stringData` value, so a decoded
  value starting with `{` is a JSON entry whether it was written on one line or several. Secrets are chosen by a
  label selector here, and the keys of every selected Secret count.

  Ported from agentgateway/agentgateway controller/pkg/agentgateway/plugins/testdata/trafficpolicy/
  apikey-secret-selector.yaml (a raw key and a one-line JSON keyHash entry, both base64, in two selected Secrets)
  and apikey-pre-routing.yaml (a multi-line JSON keyHash entry in base64 `data`); the JSON `key` entries are the
  same shapes with a raw key inside.

  Background:
    Given the gateway routes "www.example.com" to httpbin
    And the following resources are applied:
      """
      apiVersion: agentgateway.dev/v1alpha1
      kind: AgentgatewayPolicy
      metadata:
        name: apikey-secret-selector
        namespace: agentgateway-system
      spec:
        targetRefs:
          - group: gateway.networking.k8s.io
            kind: Gateway
            name: agentgateway-proxy
        traffic:
          apiKeyAuthentication:
            mode: Strict
            secretSelector:
              matchLabels:
                app: apikey-secret-selector
      ---
      apiVersion: v1
      kind: Secret
      metadata:
        name: apikey-secret-selector-a
        namespace: agentgateway-system
        labels:
          app: apikey-secret-selector
      type: Opaque
      data:
        # agw-b64-key-1110
        key1: YWd3LWI2NC1rZXktMTExMA==
      ---
      apiVersion: v1
      kind: Secret
      metadata:
        name: apikey-secret-selector-b
        namespace: agentgateway-system
        labels:
          app: apikey-secret-selector
      type: Opaque
      data:
        # {"key": "agw-b64-key-2220", "metadata": {"team": "platform"}}
        key2: eyJrZXkiOiAiYWd3LWI2NC1rZXktMjIyMCIsICJtZXRhZGF0YSI6IHsidGVhbSI6ICJwbGF0Zm9ybSJ9fQ==
        # the same shape over four lines: {"key": "agw-b64-key-3330", "metadata": {"user": "admin"}}
        key3: ewogICJrZXkiOiAiYWd3LWI2NC1rZXktMzMzMCIsCiAgIm1ldGFkYXRhIjogeyJ1c2VyIjogImFkbWluIn0KfQo=
      """

  Scenario Outline: Raw and JSON entries in base64 data are all accepted
    When I send a GET request to "/headers" with:
      | part   | name          | value        |
      | header | Authorization | Bearer <key> |
    Then the response status is 200
    And the AgentgatewayPolicy "agentgateway-system/apikey-secret-selector" has condition Accepted=True with reason Valid

    Examples:
      | key              |
      | agw-b64-key-1110 |
      | agw-b64-key-2220 |
      | agw-b64-key-3330 |

  Scenario: The base64 text itself is not a key
    When I send a GET request to "/headers" with:
      | part   | name          | value                           |
      | header | Authorization | Bearer YWd3LWI2NC1rZXktMTExMA== |
    Then the response status is 401

  # keyHash entries are a v1.4.0 addition.
  @requires:key-hash
  Scenario Outline: keyHash entries in base64 data accept the keys they hash
    When the following resources are applied:
      """
      apiVersion: v1
      kind: Secret
      metadata:
        name: apikey-secret-selector-c
        namespace: agentgateway-system
        labels:
          app: apikey-secret-selector
      type: Opaque
      data:
        # {"keyHash": "sha256:<sha256 of agw-b64-key-4440>", "metadata": {"team": "platform"}}
        key4: eyJrZXlIYXNoIjogInNoYTI1NjphMmRkN2IzMDUxNDhlZTFlOTEyZmU5NTM4YTYwZDQ2NGE5ZGM1Y2U5ZGJjMjMxZDNmMTczM2ZlMjNkZDdmMDllIiwgIm1ldGFkYXRhIjogeyJ0ZWFtIjogInBsYXRmb3JtIn19
        # the same shape over four lines, for agw-b64-key-5550
        key5: ewogICJrZXlIYXNoIjogInNoYTI1NjoyYzgwMGJjNDA2ZjQ5OGI0ZDk2ZmZhZjBkMmVlZmQzODlkZTQ0YzAzZTNkMmQ5NDM3MjM3YjJlOTFjMjEyYjc3IiwKICAibWV0YWRhdGEiOiB7InVzZXIiOiAiYWRtaW4ifQp9Cg==
      """
    And I send a GET request to "/headers" with:
      | part   | name          | value        |
      | header | Authorization | Bearer <key> |
    Then the response status is 200

    Examples:
      | key              |
      | agw-b64-key-4440 |
      | agw-b64-key-5550 |
