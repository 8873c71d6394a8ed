"""The Envoy configuration produced for representative resources (no Envoy needed)."""

from __future__ import annotations

from typing import Any

from envoy_manifests import BASE, GATEWAY_POLICY, GUIDE_KEY, GUIDE_SECRET, inventory, policy

from conformance.envoy.policies import FILTER_NAME, PER_ROUTE_TYPE
from conformance.envoy.routes import intersect_hostnames
from conformance.envoy.translate import INVALID_ROUTE_BODY, EnvoyConfig, translate
from reference_impl.compile.snapshot import BackendMap

PORTS = {8080: 18080, 9090: 19090}
BACKENDS = BackendMap({"httpbin": "http://127.0.0.1:8000"})


def config(*texts: str) -> EnvoyConfig:
    return translate(inventory(*texts), port_map=PORTS, backends=BACKENDS, rds_path="/xds")


def rc(cfg: EnvoyConfig, port: int = 8080) -> dict[str, Any]:
    return cfg.route_configs[f"listener~{port}"]


def routes_by_rule(cfg: EnvoyConfig) -> dict[str, dict[str, Any]]:
    return {r["name"].split("-")[-3]: r for vh in rc(cfg)["virtual_hosts"] for r in vh["routes"]}


def per_filter(node: dict[str, Any]) -> dict[str, Any] | None:
    return node.get("typed_per_filter_config", {}).get(FILTER_NAME)


def hcm(cfg: EnvoyConfig) -> dict[str, Any]:
    return cfg.listeners[0]["filter_chains"][0]["filters"][0]["typed_config"]


def test_gateway_policy_sits_on_the_route_configuration_behind_a_disabled_listener_filter() -> None:
    cfg = config(BASE, GUIDE_SECRET, GATEWAY_POLICY)
    listener = cfg.listeners[0]
    assert listener["address"]["socket_address"] == {"address": "127.0.0.1", "port_value": 18080}
    filters = hcm(cfg)["http_filters"]
    assert [f["name"] for f in filters] == [FILTER_NAME, "envoy.filters.http.router"]
    assert filters[0]["disabled"] is True
    assert hcm(cfg)["stat_prefix"] == "port_8080"
    assert hcm(cfg)["rds"]["config_source"]["path_config_source"]["path"] == "/xds/rds-8080.json"
    assert per_filter(rc(cfg)) == {
        "@type": PER_ROUTE_TYPE,
        "credentials": [{"key": GUIDE_KEY, "client": "api-key"}],  # the entry name is the client
        "key_sources": [{"header": "api-key"}],
        "forwarding": {"hide_credentials": True},
    }
    assert all(per_filter(r) is None for r in routes_by_rule(cfg).values())
    assert cfg.conditions[("default", "apikey-auth")].status == "True"


def test_without_api_key_policies_the_filter_is_absent() -> None:
    cfg = config(BASE)
    assert [f["name"] for f in hcm(cfg)["http_filters"]] == ["envoy.filters.http.router"]
    assert cfg.clusters[0]["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"] == {
        "socket_address": {"address": "127.0.0.1", "port_value": 8000}
    }


def test_rule_level_policy_overrides_the_gateway_policy_on_that_rule_only() -> None:
    other = """
apiVersion: v1
kind: Secret
metadata: {name: other, namespace: default}
stringData: {b-client: key-b, a-client: key-a}
"""
    rule = policy("status-only", "httpbin", "{secretRef: {name: other}}", kind="HTTPRoute", section="status")
    cfg = config(BASE, GUIDE_SECRET, other, GATEWAY_POLICY, rule)
    routes = routes_by_rule(cfg)
    assert per_filter(routes["main"]) is None  # inherits the RouteConfiguration's
    assert per_filter(routes["status"])["credentials"] == [  # type: ignore[index]
        {"key": "key-a", "client": "a-client"},
        {"key": "key-b", "client": "b-client"},
    ]


def test_disable_turns_the_filter_off_for_its_scope() -> None:
    rule = policy("open", "httpbin", "{disable: {}}", kind="HTTPRoute", section="status")
    cfg = config(BASE, GUIDE_SECRET, GATEWAY_POLICY, rule)
    assert per_filter(routes_by_rule(cfg)["status"]) == {
        "@type": "type.googleapis.com/envoy.config.route.v3.FilterConfig",
        "disabled": True,
    }


def test_key_sources_keep_their_order_and_forwarding_follows_the_policy() -> None:
    auth = """{secretRef: {name: apikey}, keySources: [{cookie: c}, {query: q}, {header: X-Key, query: ignored}],
  clientIdHeader: x-client-id, forwardCredential: true}"""
    cfg = config(BASE, GUIDE_SECRET, policy("p", "httpbin", auth, kind="HTTPRoute"))
    for route in routes_by_rule(cfg).values():
        assert per_filter(route)["key_sources"] == [  # type: ignore[index]
            {"cookie": "c"},
            {"query": "q"},
            {"header": "X-Key", "query": "ignored"},
        ]
        assert per_filter(route)["forwarding"] == {"hide_credentials": False, "header": "x-client-id"}  # type: ignore[index]


def test_invalid_route_policy_replaces_its_routes_with_a_500() -> None:
    broken = policy("broken", "httpbin", "{secretRef: {name: missing}}", kind="HTTPRoute", section="status")
    cfg = config(BASE, GUIDE_SECRET, GATEWAY_POLICY, broken)
    routes = routes_by_rule(cfg)
    assert routes["status"]["direct_response"] == {"status": 500, "body": {"inline_string": INVALID_ROUTE_BODY}}
    assert "typed_per_filter_config" not in routes["status"] and "route" not in routes["status"]
    assert "route" in routes["main"]
    condition = cfg.conditions[("default", "broken")]
    assert (condition.status, condition.reason) == ("False", "Invalid")
    assert condition.message == "API key secret missing: Secret default/missing not found"


def test_an_invalid_lower_priority_policy_is_not_hidden_by_a_valid_one() -> None:
    rule = policy("rule", "httpbin", "{secretRef: {name: apikey}}", kind="HTTPRoute", section="status")
    route = policy("route", "httpbin", "{secretRef: {name: missing}}", kind="HTTPRoute")
    routes = routes_by_rule(config(BASE, GUIDE_SECRET, rule, route))
    assert routes["status"]["direct_response"]["status"] == 500
    assert routes["main"]["direct_response"]["status"] == 500


def test_invalid_gateway_policy_replaces_the_whole_route_configuration() -> None:
    duplicate = """
apiVersion: v1
kind: Secret
metadata: {name: apikey, namespace: default}
stringData: {one: same, two: same}
"""
    cfg = config(BASE, duplicate, GATEWAY_POLICY)
    assert rc(cfg)["virtual_hosts"] == [
        {
            "name": "default",
            "domains": ["*"],
            "routes": [
                {
                    "match": {"prefix": "/"},
                    "direct_response": {"status": 500, "body": {"inline_string": INVALID_ROUTE_BODY}},
                }
            ],
        }
    ]
    message = cfg.conditions[("default", "apikey-auth")].message
    assert "duplicate API key value" in message and "same" not in message.replace("secret", "")


def test_listener_policy_sits_on_the_listeners_virtual_hosts() -> None:
    listener = policy("l", "http", "{secretRef: {name: apikey}}", section="http")
    cfg = config(BASE, GUIDE_SECRET, GATEWAY_POLICY.replace("apikey-auth", "g"), listener)
    (vhost,) = rc(cfg)["virtual_hosts"]
    assert vhost["domains"] == ["www.example.com"]
    assert per_filter(vhost)["credentials"][0]["client"] == "api-key"  # type: ignore[index]
    broken = policy("l", "http", "{secretRef: {name: missing}}", section="http")
    (fallback,) = rc(config(BASE, GUIDE_SECRET, broken))["virtual_hosts"]
    assert fallback["name"] == vhost["name"] and fallback["domains"] == ["www.example.com"]
    assert fallback["routes"][0]["direct_response"]["status"] == 500


def test_extension_ref_attaches_to_its_rule_and_a_missing_one_fails_closed() -> None:
    route = """
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ext, namespace: default}
spec:
  parentRefs: [{name: http}]
  rules:
  - filters: [{type: ExtensionRef, extensionRef: {group: gateway.kgateway.dev, kind: TrafficPolicy, name: %s}}]
    backendRefs: [{name: httpbin, port: 8000}]
"""
    gateway = BASE.split("---")[0]
    target = policy("ext-policy", "unused", "{secretRef: {name: apikey}}", kind="HTTPRoute")
    (r,) = rc(config(gateway, GUIDE_SECRET, route % "ext-policy", target))["virtual_hosts"][0]["routes"]
    assert per_filter(r)["credentials"][0]["key"] == GUIDE_KEY  # type: ignore[index]
    (r,) = rc(config(gateway, GUIDE_SECRET, route % "nowhere"))["virtual_hosts"][0]["routes"]
    assert r["direct_response"]["status"] == 500


def test_hostnames_and_match_precedence() -> None:
    gateway = """
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: http, namespace: default}
spec:
  gatewayClassName: kgateway
  listeners: [{name: wild, port: 9090, protocol: HTTP, hostname: "*.example.com"}]
"""
    route = """
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: default}
spec:
  parentRefs: [{name: http}]
  hostnames: [a.example.com, other.org, "*.b.example.com"]
  rules:
  - matches: [{path: {type: PathPrefix, value: /}}]
    backendRefs: [{name: httpbin, port: 8000}]
  - matches: [{path: {type: PathPrefix, value: /api/}}, {path: {type: Exact, value: /a}, method: POST,
               headers: [{name: x-v, value: "1"}]}]
    backendRefs: [{name: httpbin, port: 8000}]
  - matches: [{path: {type: PathPrefix, value: /api/v1}}]
    backendRefs: [{name: httpbin, port: 8000}]
"""
    vhosts = rc(config(gateway, route), 9090)["virtual_hosts"]
    assert [v["domains"] for v in vhosts] == [["a.example.com"], ["*.b.example.com"]]
    matches = [r["match"] for r in vhosts[0]["routes"]]
    assert matches == [
        {
            "path": "/a",
            "headers": [
                {"name": "x-v", "string_match": {"exact": "1"}},
                {"name": ":method", "string_match": {"exact": "POST"}},
            ],
        },
        {"path_separated_prefix": "/api/v1"},
        {"prefix": "/api/"},
        {"prefix": "/"},
    ]
    assert intersect_hostnames("*.example.com", "example.com") is None
    assert intersect_hostnames(None, "*.x.io") == "*.x.io"
    assert intersect_hostnames("a.x.io", "*.x.io") == "a.x.io"


def test_unknown_backends_and_other_gateway_classes() -> None:
    other_class = BASE.replace("gatewayClassName: kgateway", "gatewayClassName: agentgateway")
    assert config(other_class).listeners == []
    cfg = translate(inventory(BASE), port_map=PORTS, backends=BackendMap(), rds_path="/xds")
    route = next(iter(routes_by_rule(cfg).values()))
    assert route["route"]["cluster_not_found_response_code"] == "INTERNAL_SERVER_ERROR"
    assert cfg.clusters == []
