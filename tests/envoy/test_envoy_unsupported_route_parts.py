"""Route parts the CRDs admit but the translation does not write: handled as the reference gateway handles them
(no Envoy needed)."""

from __future__ import annotations

from envoy_manifests import GATEWAY_POLICY, GUIDE_SECRET, inventory

from conformance.envoy.translate import INVALID_ROUTE_BODY, translate
from reference_impl.compile.snapshot import BackendMap

GATEWAY = """
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: http, namespace: default}
spec: {gatewayClassName: kgateway, listeners: [{name: http, port: 8080, protocol: HTTP}]}
"""


def route(name: str, rule: str) -> str:
    return f"""
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: {name}, namespace: default}}
spec: {{parentRefs: [{{name: http}}], hostnames: [www.example.com], rules: [{rule}]}}
"""


def routes(*texts: str) -> list[dict]:
    cfg = translate(
        inventory(GATEWAY, GUIDE_SECRET, GATEWAY_POLICY, *texts),
        port_map={8080: 18080},
        backends=BackendMap({"httpbin": "http://127.0.0.1:8000"}),
        rds_path="/xds",
    )
    return [r for vh in cfg.route_configs["listener~8080"]["virtual_hosts"] for r in vh["routes"]]


def test_a_route_with_a_regular_expression_match_is_left_out():
    regex = route(
        "regex",
        "{matches: [{path: {type: RegularExpression, value: /adm.*}}], backendRefs: [{name: httpbin, port: 8000}]}",
    )
    plain = route("plain", "{backendRefs: [{name: httpbin, port: 8000}]}")
    assert [r["match"] for r in routes(regex, plain)] == [{"prefix": "/"}]  # only the plain route's


def test_a_rule_with_a_filter_the_translation_does_not_write_answers_500():
    rule = (
        "{filters: [{type: ResponseHeaderModifier, responseHeaderModifier: {remove: [server]}}], "
        "backendRefs: [{name: httpbin, port: 8000}]}"
    )
    [only] = routes(route("modifier", rule))
    assert only["direct_response"] == {"status": 500, "body": {"inline_string": INVALID_ROUTE_BODY}}
