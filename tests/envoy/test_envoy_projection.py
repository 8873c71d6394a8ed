"""A real Envoy's `/config_dump`, projected to what decides API key auth (conformance/envoy/projection.py): the
form in which the envoy target's translation is compared with what kgateway sends its Envoy."""

from __future__ import annotations

from envoy_manifests import BASE, GATEWAY_POLICY, GUIDE_KEY, GUIDE_SECRET, docs, policy

from conformance.envoy import projection
from conformance.targets.envoy import EnvoyTarget
from reference_impl.compile.kgateway import DENY_INVALID_POLICY


def test_the_projection_holds_the_filter_chain_and_every_scope_but_no_key(envoy: EnvoyTarget) -> None:
    open_rule = policy("open", "httpbin", "{disable: {}}", kind="HTTPRoute", section="status")
    manifests = docs(BASE, GUIDE_SECRET, GATEWAY_POLICY, open_rule)
    envoy.apply(manifests)
    envoy.wait_applied(manifests, timeout=10)
    dump = envoy.envoy_config(8080)
    assert GUIDE_KEY not in str(dump)  # Envoy redacts credentials itself
    (config,) = projection.project(dump).values()
    chain = config["listener"]["http_filters"]
    assert [f["name"] for f in chain] == [projection.FILTER, "envoy.filters.http.router"]
    assert chain[0]["disabled"] is True  # on only where a scope's per-filter config turns it on
    gateway_wide = config[projection.FILTER]
    assert gateway_wide["credentials"] == 1 and gateway_wide["forwarding"] == {"hide_credentials": True}
    routes = config["virtual_hosts"]["www.example.com"]["routes"]
    disabled = [
        r
        for r in routes
        if r.get(projection.FILTER)
        == {"@type": "type.googleapis.com/envoy.config.route.v3.FilterConfig", "disabled": True}
    ]
    assert len(disabled) == 1 and "route" in disabled[0]

    broken = docs(policy("open", "httpbin", "{secretRef: {name: missing}}", kind="HTTPRoute", section="status"))
    envoy.apply(broken)
    envoy.wait_applied(broken, timeout=10)
    after = projection.project(envoy.envoy_config(8080))
    found = projection.differences(config, next(iter(after.values())))
    replaced = [(path, new) for path, _, new in found if path.endswith("direct_response")]
    assert replaced == [(replaced[0][0], {"status": 500, "body": {"inline_string": DENY_INVALID_POLICY.body.decode()}})]


def test_differences_name_the_path_and_both_values() -> None:
    a = {"listener~8080": {"virtual_hosts": {"a.test": {"routes": [{"match": {"prefix": "/"}}]}}}}
    b = {"listener~8080": {"virtual_hosts": {"a.test": {"routes": [{"match": {"path": "/"}}]}, "b.test": {}}}}
    assert projection.differences(a, b) == [
        ("listener~8080/virtual_hosts/a.test/routes[0]/match/path", None, "/"),
        ("listener~8080/virtual_hosts/a.test/routes[0]/match/prefix", "/", None),
        ("listener~8080/virtual_hosts/b.test", None, {}),
    ]
    assert projection.differences(a, a) == []
