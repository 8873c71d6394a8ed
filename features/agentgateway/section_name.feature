@agentgateway @APIKeyAuthSectionName
Feature: agentgateway policies attached to one named route rule
  A `sectionName` on an HTTPRoute target picks one named rule.

  Scenario: A rule-level policy guards only the named rule
    Given the following resources are applied:
      """
      apiVersion: gateway.networking.k8s.io/v1
      kind: Gateway
      metadata:
        name: agentgateway-proxy
        namespace: agentgateway-system
      spec:
        gatewayClassName: agentgateway
        listeners:
          - name: http
            protocol: HTTP
            port: 80
            allowedRoutes:
              namespaces:
                from: All
      ---
      apiVersion: gateway.networking.k8s.io/v1
      kind: HTTPRoute
      metadata:
        name: httpbin
        namespace: agentgateway-system
      spec:
        parentRefs:
          - name: agentgateway-proxy
        hostnames:
          - www.example.com
        rules:
          - name: private
            matches:
              - path:
                  type: PathPrefix
                  value: /anything/private
            backendRefs:
              - name: httpbin
                port: 8000
          - name: public
            backendRefs:
              - name: httpbin
                port: 8000
      ---
      apiVersion: v1
      kind: Secret
      metadata:
        name: apikey
        namespace: agentgateway-system
      stringData:
        client1: agw-rule-key-1f9e
      ---
      apiVersion: agentgateway.dev/v1alpha1
      kind: AgentgatewayPolicy
      metadata:
        name: private-auth
        namespace: agentgateway-system
      spec:
        targetRefs:
          - group: gateway.networking.k8s.io
            kind: HTTPRoute
            name: httpbin
            sectionName: private
        traffic:
          apiKeyAuthentication:
            secretRef:
              name: apikey
      """
    When I send a GET request to "/anything/private"
    Then the response status is 401
    When I send a GET request to "/anything/private" with:
      | part   | name          | value                    |
      | header | Authorization | Bearer agw-rule-key-1f9e |
    Then the response status is 200
    When I send a GET request to "/anything/public"
    Then the response status is 200
