@kgateway @APIKeyAuthSectionName
Feature: kgateway attaches a policy to one rule through an ExtensionRef filter
  A rule's `ExtensionRef` filter naming a TrafficPolicy applies that policy to the rule alone; the policy needs no
  targetRefs. A policy that is both referenced by the filter and targeted at the route applies once. A filter
  that names a policy that does not exist cannot be skipped (Gateway API: the requests it would process get an
  HTTP error), so the rule answers 500 until the policy exists (kgateway's exact body and route condition for it
  are not pinned down upstream, so only the status is checked).

  Ported from kgateway-dev/kgateway pkg/kgateway/translator/gateway/testutils/{inputs,outputs}/traffic-policy/
  api-key-auth-route.yaml (ExtensionRef on /foo, none on /bar, header x-api-key, clientIdHeader
  x-authenticated-client) and api-key-auth-secretref.yaml (ExtensionRef and a targetRef to the same route). The
  rules here match /anything/foo and /anything/bar so that httpbin echoes the request. The missing policy follows
  kubernetes-sigs/gateway-api apis/v1/httproute_types.go (v1.5.1), HTTPRouteFilter ExtensionRef.

  Background:
    Given the gateway routes "www.example.com" to httpbin
    And the following resources are applied:
      """
      apiVersion: v1
      kind: Secret
      metadata:
        name: api-keys
        namespace: kgateway-system
      stringData:
        client1: extref-key-1230
        client2: extref-key-4560
      ---
      apiVersion: gateway.networking.k8s.io/v1
      kind: HTTPRoute
      metadata:
        name: example-route
        namespace: kgateway-system
      spec:
        parentRefs:
          - name: http
        hostnames:
          - extref.example.com
        rules:
          - matches:
              - path:
                  type: PathPrefix
                  value: /anything/foo
            filters:
              - type: ExtensionRef
                extensionRef:
                  group: gateway.kgateway.dev
                  kind: TrafficPolicy
                  name: api-key-auth-route
            backendRefs:
              - name: httpbin
                port: 8000
          - matches:
              - path:
                  type: PathPrefix
                  value: /anything/bar
            backendRefs:
              - name: httpbin
                port: 8000
      """

  Rule: The referenced policy exists

    Background:
      Given the following resources are applied:
        """
        apiVersion: gateway.kgateway.dev/v1alpha1
        kind: TrafficPolicy
        metadata:
          name: api-key-auth-route
          namespace: kgateway-system
        spec:
          apiKeyAuth:
            keySources:
              - header: x-api-key
            forwardCredential: false
            clientIdHeader: x-authenticated-client
            secretRef:
              name: api-keys
        """

    Scenario: The rule with the filter rejects a request without a key
      When I send a GET request to "/anything/foo" with:
        | part | name | value              |
        | host |      | extref.example.com |
      Then the response status is 401

    Scenario: The rule with the filter names the client and hides the key
      When I send a GET request to "/anything/foo" with:
        | part   | name      | value              |
        | host   |           | extref.example.com |
        | header | x-api-key | extref-key-4560    |
      Then the response status is 200
      And the upstream receives header "x-authenticated-client" with value "client2"
      And the upstream receives no header "x-api-key"

    Scenario: The rule without the filter is open
      When I send a GET request to "/anything/bar" with:
        | part | name | value              |
        | host |      | extref.example.com |
      Then the response status is 200
      And the upstream receives no header "x-authenticated-client"

    Scenario: A policy both referenced by the filter and targeted at the route applies once
      When the following resources are applied:
        """
        apiVersion: gateway.kgateway.dev/v1alpha1
        kind: TrafficPolicy
        metadata:
          name: api-key-auth-route
          namespace: kgateway-system
        spec:
          targetRefs:
            - group: gateway.networking.k8s.io
              kind: HTTPRoute
              name: example-route
          apiKeyAuth:
            keySources:
              - header: x-api-key
            forwardCredential: false
            clientIdHeader: x-authenticated-client
            secretRef:
              name: api-keys
        """
      And I send a GET request to "/anything/foo" with:
        | part   | name      | value              |
        | host   |           | extref.example.com |
        | header | x-api-key | extref-key-1230    |
      Then the response status is 200
      And the upstream receives header "x-authenticated-client" with value "client1"
      When I send a GET request to "/anything/bar" with:
        | part | name | value              |
        | host |      | extref.example.com |
      Then the response status is 401

    Scenario: Deleting the referenced policy makes the rule answer 500, never open
      When the TrafficPolicy "kgateway-system/api-key-auth-route" is deleted
      And I send a GET request to "/anything/foo" with:
        | part | name | value              |
        | host |      | extref.example.com |
      Then the response status is 500

  Rule: The referenced policy does not exist yet

    Scenario: The rule answers 500 while the other rule is served
      When I send a GET request to "/anything/foo" with:
        | part | name | value              |
        | host |      | extref.example.com |
      Then the response status is 500
      When I send a GET request to "/anything/bar" with:
        | part | name | value              |
        | host |      | extref.example.com |
      Then the response status is 200

    Scenario: Creating the referenced policy guards the rule
      When the following resources are applied:
        """
        apiVersion: gateway.kgateway.dev/v1alpha1
        kind: TrafficPolicy
        metadata:
          name: api-key-auth-route
          namespace: kgateway-system
        spec:
          apiKeyAuth:
            secretRef:
              name: api-keys
        """
      And I send a GET request to "/anything/foo" with:
        | part | name | value              |
        | host |      | extref.example.com |
      Then the response status is 401
      When I send a GET request to "/anything/foo" with:
        | part   | name    | value              |
        | host   |         | extref.example.com |
        | header | api-key | extref-key-1230    |
      Then the response status is 200
