"""Configuration that cannot be applied never opens a route: unresolvable ExtensionRefs, header values that cannot
be sent, policies and routes that reach nothing, internal errors while compiling."""

from __future__ import annotations

import pytest
from refsupport import (
    KG_500,
    ag_policy,
    decide,
    gateway,
    headers,
    make_store,
    parse_manifest,
    pick,
    route,
    rule,
    secret,
    target,
    traffic_policy,
)

from reference_impl.auth.decision import Allow, Deny
from reference_impl.compile import snapshot as snapshot_module
from reference_impl.compile.snapshot import DENY_INVALID_FILTER, DENY_UNCOMPILED
from reference_impl.errors import ManifestError
from reference_impl.health import snapshot_health
from reference_impl.resources import load_manifests

KEY = "fail-closed-key-0123456789"


def extension_ref(name: str, kind: str = "TrafficPolicy", group: str = "gateway.kgateway.dev") -> dict:
    return {"type": "ExtensionRef", "extensionRef": {"group": group, "kind": kind, "name": name}}


def route_problems(store, name: str = "r") -> dict[str, tuple[str, str]]:
    return {c.type: (c.reason, c.message) for c in store.snapshot.route_status.get(("default", name), ())}


# -- ExtensionRef: never skipped -------------------------------------------------------------------------------
def test_extension_ref_to_a_missing_policy_answers_500():
    store = make_store(gateway(), route(rules=[rule(filters=[extension_ref("absent")])]))
    assert decide(store) is DENY_INVALID_FILTER
    assert DENY_INVALID_FILTER.status == 500
    assert route_problems(store)["ResolvedRefs"] == (
        "BackendNotFound",
        "spec.rules[0].filters[0].extensionRef: TrafficPolicy absent does not exist",
    )


def test_extension_ref_to_a_policy_rejected_at_admission_answers_500():
    store = make_store(gateway(), route(rules=[rule(filters=[extension_ref("strict")])]))
    with pytest.raises(ManifestError):  # both secretRef and secretSelector: rejected, so it does not exist
        store.apply(
            load_manifests(
                "apiVersion: gateway.kgateway.dev/v1alpha1\nkind: TrafficPolicy\nmetadata: {name: strict}\n"
                "spec: {apiKeyAuth: {secretRef: {name: k}, secretSelector: {matchLabels: {a: b}}}}\n"
            )
        )
    assert decide(store) is DENY_INVALID_FILTER


def test_extension_ref_to_an_untranslatable_policy_answers_kgateways_500():
    store = make_store(
        gateway(), route(rules=[rule(filters=[extension_ref("p")])]), traffic_policy("p", secretRef={"name": "absent"})
    )
    decision = decide(store)
    assert isinstance(decision, Deny)
    assert (decision.status, decision.body) == (500, KG_500)


@pytest.mark.parametrize(
    ("group", "kind"), [("example.com", "RateLimit"), ("", "ConfigMap"), ("gateway.kgateway.dev", "Backend")]
)
def test_extension_ref_of_an_unknown_kind_answers_500(group, kind):
    store = make_store(gateway(), route(rules=[rule(filters=[extension_ref("x", kind, group)])]))
    assert decide(store) is DENY_INVALID_FILTER
    assert route_problems(store)["ResolvedRefs"][0] == "InvalidKind"


def test_agentgateway_resolves_no_extension_ref():
    # agentgateway's translator drops the whole route: its requests find no route (404), never the upstream.
    store = make_store(
        gateway(cls="agentgateway"),
        route(rules=[rule(filters=[extension_ref("p", "AgentgatewayPolicy", "agentgateway.dev")])]),
    )
    assert pick(store) is None
    assert route_problems(store)["Accepted"] == (
        "IncompatibleFilters",
        "spec.rules[0].filters[0].extensionRef: unsupported ExtensionRef: agentgateway.dev/AgentgatewayPolicy",
    )


def test_extension_ref_to_an_existing_policy_applies_it():
    store = make_store(
        gateway(),
        secret("keys", client=KEY),
        route(rules=[rule(filters=[extension_ref("p")])]),
        traffic_policy("p", secretRef={"name": "keys"}),
    )
    assert isinstance(decide(store), Deny)
    assert decide(store, ("api-key", KEY)).client == "client"
    assert route_problems(store) == {}


# -- header values and names that cannot be sent --------------------------------------------------------------
@pytest.mark.parametrize("client_id_header", ["x-client\r\nx-injected: 1", "x client", "x-clïent", "x-client:"])
def test_a_client_id_header_that_cannot_be_sent_fails_the_policy_closed(client_id_header):
    store = make_store(
        gateway(),
        route(),
        secret("keys", client=KEY),
        traffic_policy(targets=[target("Gateway", "gw")], secretRef={"name": "keys"}, clientIdHeader=client_id_header),
    )
    condition = store.status("TrafficPolicy", "default", "tp")
    assert (condition.status, condition.reason) == ("False", "Invalid")
    assert condition.message.startswith("spec.apiKeyAuth.clientIdHeader: ")
    assert "is not a valid HTTP header name" in condition.message
    decision = decide(store, ("api-key", KEY))
    assert isinstance(decision, Deny) and decision.status == 500  # never a crash per request, never open


def test_a_key_source_header_that_cannot_be_read_fails_the_policy_closed():
    store = make_store(
        gateway(),
        route(),
        secret("keys", client=KEY),
        traffic_policy(
            targets=[target("Gateway", "gw")],
            secretRef={"name": "keys"},
            keySources=[{"query": "k"}, {"header": "käy"}],
        ),
    )
    assert store.status("TrafficPolicy", "default", "tp").message.startswith("spec.apiKeyAuth.keySources[1].header:")
    assert decide(store, query=f"k={KEY}".encode()).status == 500


@pytest.mark.parametrize("value", ["a\r\nx-injected: 1", "a\nb", "a\x00b"])
def test_a_header_modifier_value_that_cannot_be_sent_answers_500(value):
    modifier = {"type": "RequestHeaderModifier", "requestHeaderModifier": {"set": [{"name": "x-a", "value": value}]}}
    store = make_store(gateway(), route(rules=[rule(filters=[modifier])]))
    assert decide(store) is DENY_INVALID_FILTER
    assert route_problems(store)["Accepted"] == (
        "UnsupportedValue",
        "spec.rules[0].filters[0].requestHeaderModifier.set[0].value: must not contain CR, LF or NUL characters",
    )


def test_a_non_latin_1_header_modifier_value_is_sent_as_utf_8():
    modifier = {
        "type": "RequestHeaderModifier",
        "requestHeaderModifier": {"add": [{"name": "x-a", "value": "café ☕"}]},
    }
    store = make_store(gateway(), route(rules=[rule(filters=[modifier])]))
    chosen = pick(store)
    assert chosen.header_edit.apply(headers(("x-b", "1"))) == [(b"x-b", b"1"), (b"x-a", "café ☕".encode())]


def test_a_header_modifier_name_that_is_not_a_token_is_refused_at_admission():
    modifier = {"type": "RequestHeaderModifier", "requestHeaderModifier": {"set": [{"name": "x a", "value": "1"}]}}
    with pytest.raises(ManifestError, match=r"requestHeaderModifier\.set\[0\]\.name"):
        parse_manifest(route(rules=[rule(filters=[modifier])]))


# -- targets that do not exist ---------------------------------------------------------------------------------
def test_a_policy_whose_targets_do_not_exist_says_so():
    store = make_store(
        gateway(),
        route(),
        secret("keys", client=KEY),
        traffic_policy(targets=[target("Gateway", "gw-typo")], secretRef={"name": "keys"}),
    )
    condition = store.status("TrafficPolicy", "default", "tp")
    assert (condition.status, condition.reason, condition.message) == (
        "False",
        "TargetNotFound",
        "Gateway default/gw-typo not found",
    )
    assert any("TargetNotFound" in line for line in snapshot_health(store.snapshot).degraded)


def test_a_policy_with_one_resolvable_target_is_accepted():
    store = make_store(
        gateway(),
        route(),
        secret("keys", client=KEY),
        traffic_policy(targets=[target("Gateway", "gw-typo"), target("HTTPRoute", "r")], secretRef={"name": "keys"}),
    )
    assert store.status("TrafficPolicy", "default", "tp").status == "True"


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("listener-typo", "Gateway default/gw has no listener named listener-typo"),
    ],
)
def test_a_section_name_that_does_not_exist_says_so(section, message):
    store = make_store(
        gateway(),
        route(),
        ag_policy(targets=[target("Gateway", "gw", section)], secretRef={"name": "keys"}),
    )
    condition = store.status("AgentgatewayPolicy", "default", "ap")
    assert (condition.reason, condition.message) == ("TargetNotFound", message)


def test_a_route_whose_gateway_does_not_exist_is_not_accepted():
    store = make_store(gateway(), route(parent="gw-typo"))
    assert route_problems(store)["Accepted"] == ("NoMatchingParent", "Gateway default/gw-typo not found")
    assert pick(store) is None  # and it serves nothing


# -- a compiler failure closes, never opens --------------------------------------------------------------------
def test_an_internal_error_in_one_policy_fails_that_policy_closed(monkeypatch):
    store = make_store(gateway(), route(), route("other", hostnames=["other.test"]), secret("keys", client=KEY))

    def broken(policy, inventory):
        raise RuntimeError(f"boom {KEY}")  # the text must not reach the status: it could quote configuration

    monkeypatch.setattr(snapshot_module, "compile_traffic_policy", broken)
    store.apply([parse_manifest(traffic_policy(targets=[target("HTTPRoute", "r")], secretRef={"name": "keys"}))])
    condition = store.status("TrafficPolicy", "default", "tp")
    assert (condition.status, condition.reason) == ("False", "Invalid")
    assert KEY not in condition.message and "RuntimeError" in condition.message
    assert decide(store, ("api-key", KEY)).status == 500
    assert isinstance(decide(store, host="other.test"), Allow)  # the other route is unaffected


def test_a_compile_failure_closes_every_listener(monkeypatch, caplog):
    store = make_store(
        gateway(),
        route(),
        secret("keys", client=KEY),
        traffic_policy(targets=[target("Gateway", "gw")], secretRef={"name": "keys"}),
    )
    assert decide(store, ("api-key", KEY)).client == "client"

    def broken(*args, **kwargs):
        raise RuntimeError(f"boom {KEY}")

    monkeypatch.setattr("reference_impl.store.compile_snapshot", broken)
    store.apply([parse_manifest(secret("keys", other="another-key-0123456789"))])  # e.g. a key revoked
    assert decide(store, ("api-key", KEY)) is DENY_UNCOMPILED  # the revoked key does not keep working
    assert DENY_UNCOMPILED.status == 503
    assert decide(store, host="anything.test") is DENY_UNCOMPILED
    assert snapshot_health(store.snapshot).fatal
    assert KEY not in caplog.text and "RuntimeError" in caplog.text
