"""A catalog of bad manifests for the watched folder: what each one is, which file it lands in, and what must follow.

Two families:
  * REJECTED: the API server would refuse the file (it does not parse, or breaks a CRD or core rule). The file keeps
    its last good version (or, new, is not loaded); the error names the file, the resource, the field and the rule.
  * FAIL_CLOSED: admitted, but the controller cannot apply it. The policy (or route) reports why, and the requests
    it governs are refused: never served open.
The expected messages live in test_bad_manifests.py, next to the checks.
"""

from __future__ import annotations

KEY = "catalog-key-0123456789abcdef"
AGW_KEY = "catalog-agw-key-0123456789ab"


def traffic_policy(auth: str, target: str = "kind: HTTPRoute, name: guarded") -> str:
    return (
        "apiVersion: gateway.kgateway.dev/v1alpha1\nkind: TrafficPolicy\nmetadata: {name: auth}\nspec:\n"
        f"  targetRefs: [{{group: gateway.networking.k8s.io, {target}}}]\n  apiKeyAuth: {auth}\n"
    )


def agentgateway_policy(
    auth: str, targets: str = "[{group: gateway.networking.k8s.io, kind: Gateway, name: agw}]"
) -> str:
    return (
        "apiVersion: agentgateway.dev/v1alpha1\nkind: AgentgatewayPolicy\nmetadata: {name: agw-auth}\nspec:\n"
        f"  targetRefs: {targets}\n  traffic:\n    apiKeyAuthentication: {auth}\n"
    )


def secret(body: str, name: str = "keys") -> str:
    return f"apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}}}\n{body}\n"


def gateway(listeners: str) -> str:
    return (
        "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: gw}\n"
        f"spec: {{gatewayClassName: kgateway, listeners: {listeners}}}\n"
    )


def extra_route(rule: str) -> str:
    return (
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: extra}\n"
        f"spec:\n  parentRefs: [{{name: gw}}]\n  hostnames: [extra.test]\n  rules:\n  - {rule}\n"
    )


BASE = {
    "gateway.yaml": gateway("[{name: http, port: 8080, protocol: HTTP}]")
    + "---\n"
    + "".join(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\n"
        f"metadata: {{name: {name}}}\nspec: {{parentRefs: [{{name: gw}}], hostnames: [{name}.test], "
        "rules: [{backendRefs: [{name: svc, port: 80}]}]}\n---\n"
        for name in ("guarded", "open")
    ),
    "policy.yaml": traffic_policy("{secretRef: {name: keys}, clientIdHeader: x-client-id}"),
    "keys.yaml": secret(f"stringData: {{client: {KEY}}}"),
    "agw.yaml": (
        "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: agw}\n"
        "spec: {gatewayClassName: agentgateway, listeners: [{name: http, port: 80, protocol: HTTP}]}\n---\n"
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: agw-route}\n"
        "spec: {parentRefs: [{name: agw}], hostnames: [agw.test], rules: [{backendRefs: [{name: svc, port: 80}]}]}\n"
        "---\n" + secret(f"stringData: {{client: {AGW_KEY}}}", "agw-keys")
    ),
    "agw-policy.yaml": agentgateway_policy("{secretRef: {name: agw-keys}}"),
}

NESTED = "a: " + "[" * 200 + "]" * 200 + "\n"
SEVENTEEN = ", ".join(f"{{header: h{i}}}" for i in range(17))

# id -> (file written, content)
REJECTED: dict[str, tuple[str, str | bytes]] = {
    # the file itself
    "yaml-syntax": ("keys.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: keys\n"),
    "yaml-tab-indent": ("keys.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n\tname: keys\n"),
    "yaml-undefined-alias": ("keys.yaml", "a: *missing\n"),
    "json-trailing-comma": ("extra.json", '{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "j"},}'),
    "json-comment": ("extra.json", '// a comment\n{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "j"}}'),
    "binary": ("keys.yaml", b"\x89PNG\r\n\x1a\n\x00\x00\xff"),
    "deep-nesting": ("keys.yaml", NESTED),
    "list-items-number": ("keys.yaml", "apiVersion: v1\nkind: List\nitems: 5\n"),
    "list-items-null": ("keys.yaml", "apiVersion: v1\nkind: List\nitems: null\n"),
    "list-item-scalar": ("keys.yaml", "apiVersion: v1\nkind: List\nitems: [just text]\n"),
    "scalar-document": ("keys.yaml", "just a string\n"),
    "sequence-document": ("keys.yaml", "- a\n- b\n"),
    # kinds and metadata
    "unknown-kind": ("extra.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"),
    "no-kind": ("extra.yaml", "apiVersion: v1\nmetadata: {name: p}\n"),
    "wrong-api-version": (
        "policy.yaml",
        traffic_policy("{secretRef: {name: keys}}").replace("kgateway.dev/v1alpha1", "kgateway.dev/v1"),
    ),
    "no-metadata-name": ("keys.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {}\nstringData: {client: x}\n"),
    "bad-name": ("keys.yaml", secret("stringData: {client: x}", "Keys_1")),
    "bad-namespace": ("keys.yaml", secret("stringData: {client: x}", "keys, namespace: Team.A")),
    "bad-label": ("keys.yaml", secret("stringData: {client: x}", "keys, labels: {'bad key': x}")),
    "unknown-metadata-field": ("keys.yaml", secret("stringData: {client: x}", "keys, label: {a: b}")),
    "label-value-number": ("keys.yaml", secret("stringData: {client: x}", "keys, labels: {tier: 1}")),
    "policy-label-value-number": (
        "policy.yaml",
        traffic_policy("{secretRef: {name: keys}}").replace("{name: auth}", "{name: auth, labels: {tier: 1}}"),
    ),
    "policy-annotations-list": (
        "policy.yaml",
        traffic_policy("{secretRef: {name: keys}}").replace("{name: auth}", "{name: auth, annotations: [a]}"),
    ),
    # Secret and ConfigMap
    "secret-not-base64": ("keys.yaml", secret("data: {client: 'not base64!!'}")),
    "secret-bad-entry-name": ("keys.yaml", secret("stringData: {'a client': x}")),
    "secret-unknown-field": ("keys.yaml", secret("stringdata: {client: x}")),
    "secret-number-value": ("keys.yaml", secret("stringData: {client: 12345}")),
    "secret-data-list": ("keys.yaml", secret("data: [a, b]")),
    "configmap-binary-not-base64": (
        "extra.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\nbinaryData: {a: '%%%'}\n",
    ),
    # Gateway
    "gateway-no-listeners": ("gateway.yaml", gateway("[]")),
    "gateway-no-protocol": ("gateway.yaml", gateway("[{name: http, port: 8080}]")),
    "gateway-port-range": ("gateway.yaml", gateway("[{name: http, port: 70000, protocol: HTTP}]")),
    "gateway-port-string": ("gateway.yaml", gateway("[{name: http, port: '8080', protocol: HTTP}]")),
    "gateway-duplicate-listener": (
        "gateway.yaml",
        gateway("[{name: http, port: 8080, protocol: HTTP}, {name: http, port: 8081, protocol: HTTP}]"),
    ),
    "gateway-bad-hostname": ("gateway.yaml", gateway("[{name: http, port: 8080, protocol: HTTP, hostname: Bad_Host}]")),
    # HTTPRoute
    "route-relative-path": ("extra.yaml", extra_route("matches: [{path: {type: PathPrefix, value: relative}}]")),
    "route-bad-path-type": ("extra.yaml", extra_route("matches: [{path: {type: Glob, value: /x}}]")),
    "route-header-name": ("extra.yaml", extra_route("matches: [{headers: [{name: 'x a', value: b}]}]")),
    "route-filter-mismatch": ("extra.yaml", extra_route("filters: [{type: ExtensionRef}]")),
    "route-backend-no-port": ("extra.yaml", extra_route("backendRefs: [{name: svc}]")),
    "route-modifier-name": (
        "extra.yaml",
        extra_route(
            "filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: 'x a', value: b}]}}]"
        ),
    ),
    "route-method": ("extra.yaml", extra_route("matches: [{method: FETCH}]")),
    # TrafficPolicy
    "tp-secretref-and-selector": (
        "policy.yaml",
        traffic_policy("{secretRef: {name: keys}, secretSelector: {matchLabels: {a: b}}}"),
    ),
    "tp-no-source": ("policy.yaml", traffic_policy("{keySources: [{header: api-key}]}")),
    "tp-disable-and-ref": ("policy.yaml", traffic_policy("{disable: {}, secretRef: {name: keys}}")),
    "tp-empty-key-source": ("policy.yaml", traffic_policy("{secretRef: {name: keys}, keySources: [{}]}")),
    "tp-17-key-sources": ("policy.yaml", traffic_policy(f"{{secretRef: {{name: keys}}, keySources: [{SEVENTEEN}]}}")),
    "tp-long-header": (
        "policy.yaml",
        traffic_policy(f"{{secretRef: {{name: keys}}, keySources: [{{header: {'h' * 257}}}]}}"),
    ),
    "tp-forward-credential-string": (
        "policy.yaml",
        traffic_policy("{secretRef: {name: keys}, forwardCredential: 'yes'}"),
    ),
    "tp-unknown-field": ("policy.yaml", traffic_policy("{secretRef: {name: keys}, hideCredentials: true}")),
    "tp-target-without-group": (
        "policy.yaml",
        traffic_policy("{secretRef: {name: keys}}").replace("group: gateway.networking.k8s.io, ", ""),
    ),
    "tp-target-kind": ("policy.yaml", traffic_policy("{secretRef: {name: keys}}", "kind: Service, name: guarded")),
    "tp-secret-namespace": ("policy.yaml", traffic_policy("{secretRef: {name: keys, namespace: 'Bad NS'}}")),
    # AgentgatewayPolicy
    "ap-mode": ("agw-policy.yaml", agentgateway_policy("{mode: Lenient, secretRef: {name: agw-keys}}")),
    "ap-two-sources": (
        "agw-policy.yaml",
        agentgateway_policy("{secretRef: {name: agw-keys}, secretSelector: {matchLabels: {a: b}}}"),
    ),
    "ap-no-source": ("agw-policy.yaml", agentgateway_policy("{mode: Strict}")),
    "ap-location-two": (
        "agw-policy.yaml",
        agentgateway_policy("{secretRef: {name: agw-keys}, location: {header: {name: x}, cookie: {name: c}}}"),
    ),
    "ap-header-token": (
        "agw-policy.yaml",
        agentgateway_policy("{secretRef: {name: agw-keys}, location: {header: {name: 'x key'}}}"),
    ),
    "ap-empty-prefix": (
        "agw-policy.yaml",
        agentgateway_policy("{secretRef: {name: agw-keys}, location: {header: {name: x-key, prefix: ''}}}"),
    ),
    "ap-xlistenerset": (
        "agw-policy.yaml",
        agentgateway_policy(
            "{secretRef: {name: agw-keys}}", "[{group: gateway.networking.k8s.io, kind: XListenerSet, name: agw}]"
        ),
    ),
    "ap-mixed-target-kinds": (
        "agw-policy.yaml",
        agentgateway_policy(
            "{secretRef: {name: agw-keys}}",
            "[{group: gateway.networking.k8s.io, kind: Gateway, name: agw}, "
            "{group: gateway.networking.k8s.io, kind: HTTPRoute, name: agw-route}]",
        ),
    ),
    "ap-refs-and-selectors": (
        "agw-policy.yaml",
        agentgateway_policy("{secretRef: {name: agw-keys}}").replace(
            "  traffic:",
            "  targetSelectors: [{group: gateway.networking.k8s.io, kind: Gateway, matchLabels: {a: b}}]\n  traffic:",
        ),
    ),
    "ap-custom-ref-without-group": (
        "agw-policy.yaml",
        agentgateway_policy("{secretRef: {name: agw-keys, kind: Vault}}"),
    ),
}

# id -> (file written, content, (kind, name) that reports the problem, host whose requests are refused)
FAIL_CLOSED: dict[str, tuple[str, str, tuple[str, str], str]] = {
    "tp-missing-secret": (
        "policy.yaml",
        traffic_policy("{secretRef: {name: absent}}"),
        ("TrafficPolicy", "auth"),
        "guarded",
    ),
    "tp-secret-without-entries": (
        "keys.yaml",
        secret("stringData: {client: ''}"),
        ("TrafficPolicy", "auth"),
        "guarded",
    ),
    "tp-key-shared-by-two-clients": (
        "keys.yaml",
        secret(f"stringData: {{client: {KEY}, other: {KEY}}}"),
        ("TrafficPolicy", "auth"),
        "guarded",
    ),
    "tp-selector-matches-nothing": (
        "policy.yaml",
        traffic_policy("{secretSelector: {matchLabels: {team: nobody}}}"),
        ("TrafficPolicy", "auth"),
        "guarded",
    ),
    "tp-selector-expression-matches-nothing": (
        "policy.yaml",
        traffic_policy("{secretSelector: {matchExpressions: [{key: team, operator: In, values: [nobody]}]}}"),
        ("TrafficPolicy", "auth"),
        "guarded",
    ),
    "tp-cross-namespace-without-grant": (
        "policy.yaml",
        traffic_policy("{secretRef: {name: keys, namespace: elsewhere}}"),
        ("TrafficPolicy", "auth"),
        "guarded",
    ),
    "tp-secret-ref-not-a-secret": (
        "policy.yaml",
        traffic_policy("{secretRef: {name: keys, group: example.com, kind: Vault}}"),
        ("TrafficPolicy", "auth"),
        "guarded",
    ),
    "tp-client-id-header-space": (
        "policy.yaml",
        traffic_policy("{secretRef: {name: keys}, clientIdHeader: 'x client'}"),
        ("TrafficPolicy", "auth"),
        "guarded",
    ),
    "tp-client-id-header-crlf": (
        "policy.yaml",
        traffic_policy('{secretRef: {name: keys}, clientIdHeader: "x-client\\r\\nx-injected: 1"}'),
        ("TrafficPolicy", "auth"),
        "guarded",
    ),
    "tp-key-source-not-ascii": (
        "policy.yaml",
        traffic_policy("{secretRef: {name: keys}, keySources: [{header: 'käy'}]}"),
        ("TrafficPolicy", "auth"),
        "guarded",
    ),
    "tp-gateway-policy-untranslatable": (
        "policy.yaml",
        traffic_policy("{secretRef: {name: absent}}", "kind: Gateway, name: gw"),
        ("TrafficPolicy", "auth"),
        "open",
    ),
    "ap-missing-secret": (
        "agw-policy.yaml",
        agentgateway_policy("{secretRef: {name: absent}}"),
        ("AgentgatewayPolicy", "agw-auth"),
        "agw",
    ),
    "ap-custom-credential-kind": (
        "agw-policy.yaml",
        agentgateway_policy("{secretRef: {name: agw-keys, group: example.com, kind: Vault}}"),
        ("AgentgatewayPolicy", "agw-auth"),
        "agw",
    ),
    "ap-configmap-raw-key": (
        "agw-policy.yaml",
        agentgateway_policy("{configMapSelector: {matchLabels: {app: agw}}}")
        + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: agw-cm, labels: {app: agw}}\n"
        + "data: {client: raw-key-in-a-configmap}\n",
        ("AgentgatewayPolicy", "agw-auth"),
        "agw",
    ),
    "route-extension-ref-missing": (
        "extra.yaml",
        extra_route(
            "filters: [{type: ExtensionRef, extensionRef: {group: gateway.kgateway.dev, kind: TrafficPolicy, "
            "name: absent}}]\n    backendRefs: [{name: svc, port: 80}]"
        ),
        ("HTTPRoute", "extra"),
        "extra",
    ),
    "route-extension-ref-unknown-kind": (
        "extra.yaml",
        extra_route(
            "filters: [{type: ExtensionRef, extensionRef: {group: example.com, kind: RateLimit, name: x}}]\n"
            "    backendRefs: [{name: svc, port: 80}]"
        ),
        ("HTTPRoute", "extra"),
        "extra",
    ),
    "route-modifier-value-crlf": (
        "extra.yaml",
        extra_route(
            "filters: [{type: RequestHeaderModifier, requestHeaderModifier: "
            '{set: [{name: x-a, value: "a\\r\\nx-b: c"}]}}]\n    backendRefs: [{name: svc, port: 80}]'
        ),
        ("HTTPRoute", "extra"),
        "extra",
    ),
    "route-unsupported-filter": (
        "extra.yaml",
        extra_route(
            "filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /x}}}]\n"
            "    matches: [{path: {type: PathPrefix, value: /a}}]\n    backendRefs: [{name: svc, port: 80}]"
        ),
        ("HTTPRoute", "extra"),
        "extra",
    ),
}
