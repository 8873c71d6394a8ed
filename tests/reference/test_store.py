"""The in-memory store: apply / delete / get / list, atomic snapshot swaps, bad manifests, status."""

from __future__ import annotations

import pytest
from refsupport import (
    KG_500,
    decide,
    gateway,
    make_store,
    parse_manifest,
    route,
    secret,
    target,
    traffic_policy,
)

from reference_impl.auth.decision import Allow, Deny
from reference_impl.errors import ManifestError
from reference_impl.store import Store

POLICY = traffic_policy(targets=[target("Gateway", "gw")], secretRef={"name": "keys"})


def protected() -> Store:
    return make_store(secret("keys", labels={"app": "x"}, a="key-a"), gateway(), route(), POLICY)


def test_apply_get_and_list_by_labels():
    store = make_store(
        secret("one", labels={"app": "x", "tier": "1"}, a="1"),
        secret("two", labels={"app": "x"}, b="2"),
        secret("three", namespace="other", labels={"app": "y"}, c="3"),
        gateway(),
    )
    assert store.get("Secret", "default", "one").metadata.labels == {"app": "x", "tier": "1"}
    assert store.get("Secret", "default", "missing") is None
    names = lambda items: sorted(r.metadata.name for r in items)  # noqa: E731
    assert names(store.list("Secret", labels={"app": "x"})) == ["one", "two"]
    assert names(store.list("Secret", labels={"app": "x", "tier": "1"})) == ["one"]
    assert names(store.list("Secret", namespace="other")) == ["three"]
    assert names(store.list(labels={"app": "y"})) == ["three"]
    assert names(store.list("Gateway")) == ["gw"]
    assert len(store.list()) == 4


def test_apply_yaml_text_replaces_existing():
    store = protected()
    store.apply("apiVersion: v1\nkind: Secret\nmetadata: {name: keys}\nstringData: {b: key-b}\n")
    assert store.get("Secret", "default", "keys").entries() == {"b": "key-b"}
    assert isinstance(decide(store, ("api-key", "key-a")), Deny)
    assert decide(store, ("api-key", "key-b")).client == "b"


def test_delete_recompiles():
    store = protected()
    generation = store.snapshot.generation
    assert store.delete("TrafficPolicy", "default", "tp") is True
    assert store.snapshot.generation == generation + 1
    decision = decide(store)
    assert isinstance(decision, Allow) and decision.outcome == "no-auth"
    assert store.delete("TrafficPolicy", "default", "tp") is False
    assert store.snapshot.generation == generation + 1  # nothing changed, nothing recompiled


def test_deleting_the_secret_fails_closed():
    store = protected()
    store.delete("Secret", "default", "keys")
    decision = decide(store, ("api-key", "key-a"))
    assert decision.status == 500 and decision.body == KG_500


def test_delete_resources_and_clear():
    store = protected()
    assert store.delete_resources([parse_manifest(POLICY), parse_manifest(secret("nope", a="1"))]) == 1
    assert store.get("TrafficPolicy", "default", "tp") is None
    store.clear()
    assert store.list() == []
    assert store.snapshot.listeners == {}


def test_old_snapshot_is_unchanged_after_apply():
    store = protected()
    old = store.snapshot
    old_rule = old.table(8080).catch_all[0].rule
    store.apply([parse_manifest(secret("keys", z="key-z"))])
    assert store.snapshot is not old
    assert store.snapshot.generation == old.generation + 1
    # the old snapshot still answers with the old keys: readers holding it see a consistent view
    assert old.table(8080).catch_all[0].rule is old_rule
    assert old_rule.auth.clients.lookup(b"key-a") == "a"
    assert old_rule.auth.clients.lookup(b"key-z") is None
    assert store.snapshot.table(8080).catch_all[0].rule.auth.clients.lookup(b"key-z") == "z"


def test_snapshot_objects_are_immutable():
    store = protected()
    with pytest.raises(AttributeError):
        store.snapshot.generation = 99  # type: ignore[misc]
    with pytest.raises(AttributeError):
        store.snapshot.table(8080).catch_all[0].rule.auth = None  # type: ignore[misc]


def test_bad_manifest_raises_and_keeps_the_previous_snapshot():
    store = protected()
    before = store.snapshot
    bad = "apiVersion: v1\nkind: Secret\nmetadata: {name: keys}\nstringData: {b: key-b}\n---\n" + (
        "apiVersion: gateway.kgateway.dev/v1alpha1\nkind: TrafficPolicy\nmetadata: {name: tp}\n"
        "spec:\n  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: gw}]\n"
        "  apiKeyAuth: {secretRef: {name: keys}, disable: {}}\n"
    )
    with pytest.raises(ManifestError) as caught:
        store.apply(bad)
    assert "spec.apiKeyAuth" in str(caught.value)
    assert store.snapshot is before  # nothing applied, not even the valid first document
    assert store.get("Secret", "default", "keys").entries() == {"a": "key-a"}
    assert decide(store, ("api-key", "key-a")).client == "a"


def test_invalid_policy_only_affects_its_own_routes():
    store = protected()
    store.apply(
        [
            parse_manifest(route("other", hostnames=["other.test"])),
            parse_manifest(traffic_policy("broken", targets=[target("HTTPRoute", "other")], secretRef={"name": "x"})),
        ]
    )
    assert decide(store, ("api-key", "key-a")).client == "a"
    assert decide(store, ("api-key", "key-a"), host="other.test").status == 500


def test_status_from_python():
    store = protected()
    store.apply([parse_manifest(traffic_policy("broken", targets=[target("Gateway", "gw")], secretRef={"name": "x"}))])
    valid = store.status("TrafficPolicy", "default", "tp")
    assert (valid.type, valid.status, valid.reason) == ("Accepted", "True", "Valid")
    broken = store.status("TrafficPolicy", "default", "broken")
    assert (broken.status, broken.reason) == ("False", "Invalid")
    assert broken.message == "API key secret x: Secret default/x not found"
    assert store.status("TrafficPolicy", "default", "unknown") is None


def test_on_change_callback_gets_each_new_snapshot():
    store = Store()
    seen = []
    store.on_change(seen.append)
    store.apply([parse_manifest(gateway())])
    store.delete("Gateway", "default", "gw")
    assert [s.generation for s in seen] == [1, 2]
    assert seen[-1] is store.snapshot


def test_status_on_the_admin_endpoint(served):
    document = served.admin_json("/status")
    assert document["generation"] == served.store.snapshot.generation
    policies = {(p["kind"], p["namespace"], p["name"]): p["conditions"][0] for p in document["policies"]}
    kg = policies[("TrafficPolicy", "kgateway-system", "apikey-auth")]
    assert (kg["type"], kg["status"], kg["reason"]) == ("Accepted", "True", "Valid")
    ag = policies[("AgentgatewayPolicy", "agentgateway-system", "apikey-auth")]
    assert ag["status"] == "True"
    assert served.store.status("TrafficPolicy", "kgateway-system", "apikey-auth").as_dict() == kg


def test_admin_status_shows_an_invalid_policy(served):
    policy = traffic_policy(
        "admin-broken", namespace="admin-test", targets=[target("Gateway", "none")], secretRef={"name": "absent"}
    )
    served.store.apply([parse_manifest(policy)])
    try:
        document = served.admin_json("/status")
        found = [p for p in document["policies"] if p["name"] == "admin-broken"]
        assert found[0]["conditions"][0]["reason"] == "Invalid"
        assert found[0]["conditions"][0]["message"] == "API key secret absent: Secret admin-test/absent not found"
    finally:
        served.store.delete("TrafficPolicy", "admin-test", "admin-broken")


def test_admin_is_read_only_and_explains_unknown_paths(served):
    from refsupport import fetch

    assert fetch(served.admin, "/status", host="localhost", method="POST", body=b"").status == 405
    assert fetch(served.admin, "/nope", host="localhost").status == 404
    assert fetch(served.admin, "/ready", host="localhost").text.startswith("ready")
