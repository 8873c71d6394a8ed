"""kgateway translation: Secrets to credentials, reference rules, status conditions, fail-closed 500, attachment."""

from __future__ import annotations

import base64

from refsupport import (
    KG_401,
    KG_500,
    decide,
    gateway,
    make_store,
    reference_grant,
    route,
    rule,
    secret,
    target,
    traffic_policy,
)

from reference_impl.auth.decision import Allow, Deny
from reference_impl.resources import parse_manifest


def status(store, name="tp", namespace="default"):
    return store.status("TrafficPolicy", namespace, name)


def base(*docs, policy=None, policy_ns="default"):
    policy = policy or traffic_policy(
        namespace=policy_ns, targets=[target("Gateway", "gw")], secretRef={"name": "keys"}
    )
    return make_store(gateway(namespace=policy_ns), route(namespace=policy_ns), policy, *docs)


def assert_500(decision):
    assert isinstance(decision, Deny)
    assert decision.status == 500
    assert decision.body == KG_500
    assert decision.content_type == b"text/plain"


# -- Secrets to credentials ------------------------------------------------------------------------------------
def test_valid_policy_is_accepted():
    store = base(secret("keys", a="k"))
    condition = status(store)
    assert (condition.type, condition.status, condition.reason) == ("Accepted", "True", "Valid")


def test_every_entry_of_every_secret_is_a_credential_named_by_entry():
    store = base(
        secret("one", labels={"team": "x"}, **{"api-key": "guide-key", "svc-b": "kb"}),
        secret("two", labels={"team": "x"}, **{"svc-c": "kc"}),
        policy=traffic_policy(targets=[target("Gateway", "gw")], secretSelector={"matchLabels": {"team": "x"}}),
    )
    assert decide(store, ("api-key", "guide-key")).client == "api-key"  # the entry name is not special
    assert decide(store, ("api-key", "kb")).client == "svc-b"
    assert decide(store, ("api-key", "kc")).client == "svc-c"


def test_data_and_string_data_merge_string_data_wins():
    doc = secret("keys", b="from-string-data")
    doc["data"] = {
        "a": base64.b64encode(b"from-data").decode(),
        "b": base64.b64encode(b"overridden").decode(),
    }
    store = base(doc)
    assert decide(store, ("api-key", "from-data")).client == "a"
    assert decide(store, ("api-key", "from-string-data")).client == "b"
    assert isinstance(decide(store, ("api-key", "overridden")), Deny)


def test_values_are_verbatim_not_trimmed():
    store = base(secret("keys", a=" padded\n"))
    assert decide(store, ("api-key", " padded\n")).client == "a"
    assert isinstance(decide(store, ("api-key", "padded")), Deny)


def test_empty_values_are_skipped():
    store = base(secret("keys", empty="", a="ka"))
    assert status(store).reason == "Valid"
    assert decide(store, ("api-key", "ka")).client == "a"


def test_no_valid_keys_is_invalid():
    store = base(secret("keys", empty=""))
    condition = status(store)
    assert (condition.status, condition.reason) == ("False", "Invalid")
    assert condition.message == "no valid API keys found in secrets"
    assert_500(decide(store, ("api-key", "")))


def test_type_is_not_checked():
    doc = secret("keys", a="ka")
    doc["type"] = "extauth.solo.io/apikey"  # the kgateway guide's type: admitted, and ignored by the controller
    store = base(doc)
    assert status(store).reason == "Valid"


# -- secretRef ---------------------------------------------------------------------------------------------------
def test_secret_ref_namespace_defaults_to_policy_namespace():
    store = make_store(
        secret("keys", namespace="team", a="team-key"),
        secret("keys", namespace="default", a="default-key"),
        gateway(namespace="team"),
        route(namespace="team"),
        traffic_policy(namespace="team", targets=[target("Gateway", "gw")], secretRef={"name": "keys"}),
    )
    assert status(store, namespace="team").reason == "Valid"
    assert decide(store, ("api-key", "team-key")).client == "a"
    assert isinstance(decide(store, ("api-key", "default-key")), Deny)


def test_missing_secret_message_and_fail_closed():
    store = base(policy=traffic_policy(targets=[target("Gateway", "gw")], secretRef={"name": "absent"}))
    condition = status(store)
    assert (condition.status, condition.reason) == ("False", "Invalid")
    assert condition.message == "API key secret absent: Secret default/absent not found"
    assert_500(decide(store))
    assert_500(decide(store, ("api-key", "anything")))


def test_cross_namespace_secret_needs_reference_grant():
    policy = traffic_policy(targets=[target("Gateway", "gw")], secretRef={"name": "keys", "namespace": "vault"})
    store = base(secret("keys", namespace="vault", a="vault-key"), policy=policy)
    condition = status(store)
    assert (condition.status, condition.reason) == ("False", "Invalid")
    assert condition.message == "cannot reference secret vault/keys : missing reference grant"
    assert_500(decide(store, ("api-key", "vault-key")))

    store.apply([parse_manifest(reference_grant("vault", "default"))])
    assert status(store).reason == "Valid"
    assert decide(store, ("api-key", "vault-key")).client == "a"


def test_reference_grant_for_another_secret_name_does_not_count():
    policy = traffic_policy(targets=[target("Gateway", "gw")], secretRef={"name": "keys", "namespace": "vault"})
    store = base(secret("keys", namespace="vault", a="k"), reference_grant("vault", "default", "other"), policy=policy)
    assert status(store).message == "cannot reference secret vault/keys : missing reference grant"


def test_reference_grant_must_live_in_the_secret_namespace():
    policy = traffic_policy(targets=[target("Gateway", "gw")], secretRef={"name": "keys", "namespace": "vault"})
    store = base(secret("keys", namespace="vault", a="k"), reference_grant("default", "default"), policy=policy)
    assert status(store).reason == "Invalid"


# -- secretSelector ---------------------------------------------------------------------------------------------
def selector_policy(**labels):
    return traffic_policy(targets=[target("Gateway", "gw")], secretSelector={"matchLabels": labels})


def test_selector_needs_all_labels_equal():
    store = base(
        secret("both", labels={"app": "x", "tier": "1"}, both="k-both"),
        secret("one", labels={"app": "x"}, one="k-one"),
        secret("wrong", labels={"app": "x", "tier": "2"}, wrong="k-wrong"),
        policy=selector_policy(app="x", tier="1"),
    )
    assert decide(store, ("api-key", "k-both")).client == "both"
    assert isinstance(decide(store, ("api-key", "k-one")), Deny)
    assert isinstance(decide(store, ("api-key", "k-wrong")), Deny)


def test_selector_across_namespaces_skips_ungranted_silently():
    store = base(
        secret("local", labels={"app": "x"}, local="k-local"),
        secret("remote", namespace="other", labels={"app": "x"}, remote="k-remote"),
        policy=selector_policy(app="x"),
    )
    assert status(store).reason == "Valid"
    assert decide(store, ("api-key", "k-local")).client == "local"
    assert isinstance(decide(store, ("api-key", "k-remote")), Deny)

    store.apply([parse_manifest(reference_grant("other", "default"))])
    assert decide(store, ("api-key", "k-remote")).client == "remote"


def test_selector_only_ungranted_matches_is_missing_reference_grant():
    store = base(secret("remote", namespace="other", labels={"app": "x"}, r="k"), policy=selector_policy(app="x"))
    condition = status(store)
    assert condition.reason == "Invalid"
    assert condition.message == (
        "failed to get secrets by selector: missing reference grant: create a ReferenceGrant in the namespace of the "
        'referenced Secret allowing references from group "gateway.kgateway.dev" kind "TrafficPolicy" in namespace '
        '"default"'
    )
    assert_500(decide(store, ("api-key", "k")))


def test_selector_nothing_matched():
    store = base(secret("s", labels={"app": "y"}, a="k"), policy=selector_policy(app="x"))
    condition = status(store)
    assert condition.reason == "Invalid"
    assert condition.message == (
        "no secrets found matching selector (matchLabels: map[app:x], matchExpressions: []) in namespace default"
    )


def expressions_policy(*requirements, **labels):
    selector = {"matchExpressions": [dict(zip(("key", "operator", "values"), r, strict=False)) for r in requirements]}
    if labels:
        selector["matchLabels"] = labels
    return traffic_policy(targets=[target("Gateway", "gw")], secretSelector=selector)


def test_match_expressions_in_not_in_exists_does_not_exist():
    # kgateway's translator golden api-key-auth-selector-matchexpressions (In + NotIn), and the other operators.
    secrets = (
        secret("prod", labels={"app": "api-keys", "tier": "prod"}, one="k-1"),
        secret("dev", labels={"app": "api-keys", "tier": "dev"}, two="k-2"),
        secret("other", labels={"app": "other", "tier": "prod"}, three="k-3"),
        secret("bare", labels={"app": "api-keys"}, four="k-4"),
    )
    store = base(*secrets, policy=expressions_policy(("app", "In", ["api-keys"]), ("tier", "NotIn", ["dev"])))
    assert status(store).reason == "Valid"
    assert [decide(store, ("api-key", f"k-{i}")).client if isinstance(decide(store, ("api-key", f"k-{i}")), Allow)
            else None for i in range(1, 5)] == ["one", None, None, "four"]  # fmt: skip
    store = base(*secrets, policy=expressions_policy(("tier", "Exists"), app="api-keys"))
    assert [isinstance(decide(store, ("api-key", f"k-{i}")), Allow) for i in range(1, 5)] == [True, True, False, False]
    store = base(*secrets, policy=expressions_policy(("tier", "DoesNotExist")))
    assert [isinstance(decide(store, ("api-key", f"k-{i}")), Allow) for i in range(1, 5)] == [False, False, False, True]


def test_match_expressions_are_rendered_when_nothing_matches():
    store = base(
        secret("s", labels={"app": "y"}, a="k"),
        policy=expressions_policy(("app", "In", ["a", "b"]), ("tier", "Exists"), team="x"),
    )
    assert status(store).message == (
        "no secrets found matching selector (matchLabels: map[team:x], matchExpressions: [{app In [a b]} "
        "{tier Exists []}]) in namespace default"
    )
    assert_500(decide(store, ("api-key", "k")))


def test_an_operator_kubernetes_does_not_know_fails_closed():
    # The CRD admits any operator string; Kubernetes' LabelSelectorAsSelector refuses it at translation.
    store = base(secret("s", labels={"app": "a"}, a="k"), policy=expressions_policy(("app", "in", ["a"])))
    condition = status(store)
    assert (condition.status, condition.reason) == ("False", "Invalid")
    assert condition.message == 'failed to get secrets by selector: "in" is not a valid label selector operator'
    assert_500(decide(store, ("api-key", "k")))
    store = base(secret("s", labels={"app": "a"}, a="k"), policy=expressions_policy(("app", "In", [])))
    assert status(store).message == (
        "failed to get secrets by selector: values: Invalid value: []string{}: for 'in', 'notin' operators, "
        "values set can't be empty"
    )


def test_secret_ref_to_anything_but_a_core_secret_is_invalid():
    # The CRD admits any group/kind; kgateway indexes only core Secrets (krtcollections SecretIndex.GetSecret).
    for ref in ({"name": "keys", "group": "example.com", "kind": "Vault"}, {"name": "keys", "kind": "ConfigMap"}):
        store = base(secret("keys", a="k"), policy=traffic_policy(targets=[target("Gateway", "gw")], secretRef=ref))
        condition = status(store)
        assert (condition.status, condition.reason) == ("False", "Invalid")
        assert condition.message == "API key secret keys: internal error looking up secret default/keys"
        assert_500(decide(store, ("api-key", "k")))


# -- duplicates ------------------------------------------------------------------------------------------------
def test_same_client_and_key_twice_collapses():
    store = base(
        secret("one", labels={"app": "x"}, a="same"),
        secret("two", labels={"app": "x"}, a="same"),
        policy=selector_policy(app="x"),
    )
    assert status(store).reason == "Valid"
    assert decide(store, ("api-key", "same")).client == "a"


def test_same_key_under_two_clients_is_invalid_and_never_echoes_the_key():
    shared = "SHARED-super-secret-value-0123"
    store = base(
        secret("one", labels={"app": "x"}, alice=shared),
        secret("two", labels={"app": "x"}, bob=shared),
        policy=selector_policy(app="x"),
    )
    condition = status(store)
    assert (condition.status, condition.reason) == ("False", "Invalid")
    for part in ('"alice"', '"bob"', "default/one", "default/two", "duplicate API key value"):
        assert part in condition.message
    assert shared not in condition.message
    assert_500(decide(store, ("api-key", shared)))


def test_same_key_two_clients_in_one_secret():
    store = base(secret("keys", alice="dup-value", bob="dup-value"))
    condition = status(store)
    assert condition.reason == "Invalid"
    assert '"alice"' in condition.message and '"bob"' in condition.message
    assert "dup-value" not in condition.message


# -- attachment --------------------------------------------------------------------------------------------------
def attachment_store(*policies, extra_rules=None, listeners=None):
    rules = [
        rule(name="a", path="/a"),
        rule(name="b", path="/b"),
        *(extra_rules or []),
    ]
    return make_store(
        secret("gw-keys", g="gw-key"),
        secret("listener-keys", li="listener-key"),
        secret("route-keys", r="route-key"),
        secret("rule-keys", ru="rule-key"),
        gateway(listeners=listeners),
        route(rules=rules),
        *policies,
    )


def who(store, key, path, port=8080):
    decision = decide(store, ("api-key", key), path=path, port=port)
    return decision.client if isinstance(decision, Allow) else decision.status


GW = traffic_policy("gw-pol", targets=[target("Gateway", "gw")], secretRef={"name": "gw-keys"})
ROUTE = traffic_policy("route-pol", targets=[target("HTTPRoute", "r")], secretRef={"name": "route-keys"})
RULE_A = traffic_policy("rule-pol", targets=[target("HTTPRoute", "r", "a")], secretRef={"name": "rule-keys"})


def test_gateway_policy_covers_every_route():
    store = attachment_store(GW)
    assert who(store, "gw-key", "/a") == "g"
    assert who(store, "gw-key", "/b") == "g"
    assert who(store, "route-key", "/a") == 401


def test_no_policy_means_no_auth():
    store = attachment_store()
    decision = decide(store, path="/a")
    assert isinstance(decision, Allow) and decision.outcome == "no-auth"


def test_listener_section_targets_only_that_listener():
    listeners = [
        {"name": "one", "port": 8080, "protocol": "HTTP", "allowedRoutes": {"namespaces": {"from": "All"}}},
        {"name": "two", "port": 9090, "protocol": "HTTP", "allowedRoutes": {"namespaces": {"from": "All"}}},
    ]
    listener_policy = traffic_policy(
        "li-pol", targets=[target("Gateway", "gw", "two")], secretRef={"name": "listener-keys"}
    )
    store = attachment_store(GW, listener_policy, listeners=listeners)
    assert who(store, "gw-key", "/a", port=8080) == "g"
    assert who(store, "listener-key", "/a", port=8080) == 401
    assert who(store, "listener-key", "/a", port=9090) == "li"  # listener beats gateway
    assert who(store, "gw-key", "/a", port=9090) == 401  # whole: nothing merged from the gateway policy


def test_route_beats_gateway_and_rule_beats_route_whole():
    store = attachment_store(GW, ROUTE, RULE_A)
    assert who(store, "rule-key", "/a") == "ru"
    assert who(store, "route-key", "/a") == 401
    assert who(store, "gw-key", "/a") == 401
    assert who(store, "route-key", "/b") == "r"
    assert who(store, "gw-key", "/b") == 401


def test_most_specific_wins_whole_including_key_sources():
    gw_policy = traffic_policy(
        "gw-pol", targets=[target("Gateway", "gw")], secretRef={"name": "gw-keys"}, keySources=[{"query": "k"}]
    )
    store = attachment_store(gw_policy, RULE_A)
    assert who(store, "rule-key", "/a") == "ru"  # default header source, not the gateway's query
    assert isinstance(decide(store, query=b"k=rule-key", path="/a"), Deny)
    assert decide(store, query=b"k=gw-key", path="/b").client == "g"


def test_extension_ref_filter_beats_rule_target():
    ext = traffic_policy("ext-pol", secretRef={"name": "route-keys"})
    ext_rule = rule(
        name="c",
        path="/c",
        filters=[
            {
                "type": "ExtensionRef",
                "extensionRef": {"group": "gateway.kgateway.dev", "kind": "TrafficPolicy", "name": "ext-pol"},
            }
        ],
    )
    rule_c = traffic_policy("rule-c", targets=[target("HTTPRoute", "r", "c")], secretRef={"name": "rule-keys"})
    store = attachment_store(GW, rule_c, ext, extra_rules=[ext_rule])
    assert who(store, "route-key", "/c") == "r"
    assert who(store, "rule-key", "/c") == 401
    assert who(store, "gw-key", "/a") == "g"


def test_disable_on_one_rule_opens_it_under_a_gateway_policy():
    off = traffic_policy("off", targets=[target("HTTPRoute", "r", "b")], disable={})
    store = attachment_store(GW, off)
    assert who(store, "", "/a") == 401
    opened = decide(store, path="/b")
    assert isinstance(opened, Allow) and opened.outcome == "no-auth"
    assert status(store, "off").reason == "Valid"


def test_invalid_route_policy_replaces_its_routes_with_500():
    bad = traffic_policy("bad", targets=[target("HTTPRoute", "r", "a")], secretRef={"name": "absent"})
    store = attachment_store(GW, bad)
    assert_500(decide(store, ("api-key", "gw-key"), path="/a"))
    assert who(store, "gw-key", "/b") == "g"


def test_invalid_gateway_policy_replaces_the_listeners_routes_with_500():
    bad = traffic_policy("bad", targets=[target("Gateway", "gw")], secretRef={"name": "absent"})
    store = attachment_store(bad, RULE_A)
    # Even a valid rule-level policy does not survive: the whole listener answers 500.
    assert_500(decide(store, ("api-key", "rule-key"), path="/a"))
    assert_500(decide(store, path="/b"))
    assert_500(decide(store, path="/nothing-routes-here", host="unknown.example"))


def test_fixing_the_policy_restores_service():
    bad = traffic_policy("gw-pol", targets=[target("Gateway", "gw")], secretRef={"name": "absent"})
    store = attachment_store(bad)
    assert_500(decide(store, path="/a"))
    store.apply([parse_manifest(GW)])
    assert who(store, "gw-key", "/a") == "g"
    decision = decide(store, ("api-key", "wrong"), path="/a")
    assert decision.status == 401 and decision.body == KG_401


def test_oldest_policy_wins_within_a_level():
    first = traffic_policy("zz-first", targets=[target("Gateway", "gw")], secretRef={"name": "gw-keys"})
    second = traffic_policy("aa-second", targets=[target("Gateway", "gw")], secretRef={"name": "route-keys"})
    store = attachment_store(first, second)
    assert who(store, "gw-key", "/a") == "g"
    assert who(store, "route-key", "/a") == 401


def test_policy_in_another_namespace_does_not_attach():
    elsewhere = traffic_policy("gw-pol", namespace="other", targets=[target("Gateway", "gw")], secretRef={"name": "k"})
    store = attachment_store(elsewhere, secret("k", namespace="other", a="k"))
    decision = decide(store, path="/a")
    assert isinstance(decision, Allow) and decision.outcome == "no-auth"


def test_invalid_listener_policy_replaces_only_that_listener():
    listeners = [
        {"name": "one", "port": 8080, "protocol": "HTTP", "allowedRoutes": {"namespaces": {"from": "All"}}},
        {"name": "two", "port": 9090, "protocol": "HTTP", "allowedRoutes": {"namespaces": {"from": "All"}}},
    ]
    bad = traffic_policy("bad", targets=[target("Gateway", "gw", "two")], secretRef={"name": "absent"})
    store = attachment_store(GW, bad, listeners=listeners)
    assert_500(decide(store, ("api-key", "gw-key"), path="/a", port=9090))
    assert who(store, "gw-key", "/a", port=8080) == "g"


def test_compiled_snapshot_holds_digests_not_keys():
    key = "plain-text-key-should-not-be-held-42"
    store = base(secret("keys", a=key))
    auth = store.snapshot.table(8080).catch_all[0].rule.auth
    assert len(auth.clients) == 1
    assert key.encode() not in repr(store.snapshot).encode()
    assert all(len(d) == 32 for d in auth.clients.by_digest)


def test_a_target_ref_of_another_group_attaches_nothing():
    # The CRD requires a group but does not restrict it; only Gateway API kinds are attachment targets.
    ref = {"group": "example.com", "kind": "Gateway", "name": "gw"}
    store = base(secret("keys", a="k"), policy=traffic_policy(targets=[ref], secretRef={"name": "keys"}))
    assert isinstance(decide(store), Allow)  # the route has no policy
    condition = status(store)
    assert (condition.status, condition.reason) == ("False", "TargetNotFound")
    assert condition.message == "example.com/Gateway default/gw is not a kind this gateway attaches policies to"
