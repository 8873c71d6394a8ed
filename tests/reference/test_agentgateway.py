"""agentgateway apiKeyAuthentication: modes, locations, Secret / ConfigMap entries, status, attachment."""

from __future__ import annotations

import hashlib
import json

import pytest
from refsupport import (
    AG_INVALID,
    AG_MISSING,
    ag_policy,
    config_map,
    decide,
    gateway,
    header_values,
    make_store,
    pick,
    route,
    rule,
    secret,
    target,
)

from reference_impl.auth import agentgateway
from reference_impl.auth.decision import Allow, Deny, RequestParts
from reference_impl.auth.keys import Identity, KeyIndex, digest

GW = [target("Gateway", "gw")]


def ag_store(*extra, **authentication):
    authentication.setdefault("secretRef", {"name": "keys"})
    return make_store(
        secret("keys", alice="key-alice", bob="key-bob"),
        gateway(cls="agentgateway"),
        route(),
        ag_policy(targets=GW, **authentication),
        *extra,
    )


def status(store, name="ap"):
    return store.status("AgentgatewayPolicy", "default", name)


def assert_deny(decision, body):
    assert isinstance(decision, Deny)
    assert decision.status == 401
    assert decision.body == body
    assert decision.content_type == b"text/plain"
    assert not any(k == b"www-authenticate" for k, _ in decision.extra_headers)


# -- the mode table --------------------------------------------------------------------------------------------
NO_KEY = ()
INVALID = (("authorization", "Bearer wrong"),)
VALID = (("authorization", "Bearer key-alice"),)

TABLE = [
    ("Strict", NO_KEY, AG_MISSING),
    ("Strict", INVALID, AG_INVALID),
    ("Strict", VALID, "removed"),
    ("Optional", NO_KEY, "forwarded"),
    ("Optional", INVALID, AG_INVALID),
    ("Optional", VALID, "removed"),
    ("Permissive", NO_KEY, "forwarded"),
    ("Permissive", INVALID, "kept"),
    ("Permissive", VALID, "removed"),
]


@pytest.mark.parametrize(("mode", "request_headers", "expected"), TABLE)
def test_mode_table(mode, request_headers, expected):
    store = ag_store(mode=mode)
    decision = decide(store, *request_headers, ("x-other", "1"))
    if isinstance(expected, bytes):
        assert_deny(decision, expected)
        return
    assert isinstance(decision, Allow)
    assert header_values(decision.headers, "x-other") == ["1"]
    if expected == "removed":
        assert decision.client == "alice"
        assert header_values(decision.headers, "authorization") == []
    elif expected == "kept":
        assert decision.client is None
        assert header_values(decision.headers, "authorization") == ["Bearer wrong"]
    else:
        assert decision.client is None
        assert header_values(decision.headers, "authorization") == []


def test_default_mode_is_strict():
    store = ag_store()
    assert_deny(decide(store), AG_MISSING)


# -- locations ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["Bearer key-alice", "bearer key-alice", "BEARER key-alice", "bEaReR key-alice"])
def test_default_location_prefix_case_insensitive(value):
    assert decide(ag_store(), ("Authorization", value)).client == "alice"


@pytest.mark.parametrize("value", ["Basic key-alice", "key-alice", "Bearerkey-alice", "Token key-alice"])
def test_header_without_prefix_is_missing(value):
    assert_deny(decide(ag_store(), ("authorization", value)), AG_MISSING)
    # ... so Optional mode lets it through as anonymous, credential untouched
    decision = decide(ag_store(mode="Optional"), ("authorization", value))
    assert isinstance(decision, Allow) and decision.client is None
    assert header_values(decision.headers, "authorization") == [value]


def test_bearer_with_nothing_after_is_invalid():
    assert_deny(decide(ag_store(), ("authorization", "Bearer ")), AG_INVALID)
    assert_deny(decide(ag_store(mode="Optional"), ("authorization", "Bearer ")), AG_INVALID)


def test_first_header_value_counts():
    store = ag_store()
    assert decide(store, ("authorization", "Bearer key-bob"), ("authorization", "Bearer x")).client == "bob"
    assert_deny(decide(store, ("authorization", "Bearer x"), ("authorization", "Bearer key-bob")), AG_INVALID)


def test_header_location_without_prefix_uses_whole_value():
    store = ag_store(location={"header": {"name": "X-Api-Key"}})
    assert decide(store, ("x-api-key", "key-bob")).client == "bob"
    assert_deny(decide(store, ("x-api-key", "Bearer key-bob")), AG_INVALID)
    decision = decide(store, ("x-api-key", "key-bob"), ("authorization", "Bearer key-alice"))
    assert header_values(decision.headers, "x-api-key") == []
    assert header_values(decision.headers, "authorization") == ["Bearer key-alice"]  # other places untouched


def test_custom_prefix():
    store = ag_store(location={"header": {"name": "x-auth", "prefix": "ApiKey "}})
    assert decide(store, ("x-auth", "apikey key-bob")).client == "bob"
    assert_deny(decide(store, ("x-auth", "Bearer key-bob")), AG_MISSING)


def test_query_location_first_occurrence_and_removal():
    store = ag_store(location={"queryParameter": {"name": "api_key"}})
    decision = decide(store, query=b"a=1&api_key=key-alice&b=2&api_key=zzz")
    assert decision.client == "alice"
    assert decision.query_string == b"a=1&b=2"
    assert_deny(decide(store, query=b"api_key=zzz&api_key=key-alice"), AG_INVALID)
    assert_deny(decide(store, ("authorization", "Bearer key-alice")), AG_MISSING)


def test_cookie_location_and_removal():
    store = ag_store(location={"cookie": {"name": "token"}})
    decision = decide(store, ("cookie", "x=1; token=key-bob; y=2"))
    assert decision.client == "bob"
    assert header_values(decision.headers, "cookie") == ["x=1; y=2"]
    alone = decide(store, ("cookie", "token=key-bob"))
    assert header_values(alone.headers, "cookie") == []
    assert_deny(decide(store, ("cookie", "x=key-bob")), AG_MISSING)


# -- entries -----------------------------------------------------------------------------------------------------
def sha(key: str) -> str:
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def entry_store(*resources, **authentication):
    if "secretSelector" not in authentication:
        authentication.setdefault("secretRef", {"name": "keys"})
    return make_store(*resources, gateway(cls="agentgateway"), route(), ag_policy(targets=GW, **authentication))


def test_raw_values_are_used_untrimmed():
    # traffic_plugin.go v1.4.1 keeps a raw value as is (`Key: string(v)`): a `kubectl create secret --from-file`
    # trailing newline is part of the key, and only a request carrying it authenticates.
    store = entry_store(secret("keys", newline="key-nl\n", padded="  key-sp"))
    assert status(store).reason == "Valid"
    assert_deny(decide(store, ("authorization", "Bearer key-nl")), AG_INVALID)
    query = entry_store(secret("keys", newline="key-nl\n"), location={"queryParameter": {"name": "k"}})
    assert decide(query, query=b"k=key-nl%0A").client == "newline"
    assert_deny(decide(query, query=b"k=key-nl"), AG_INVALID)
    assert decide(store, ("authorization", "Bearer   key-sp")).client == "padded"
    assert_deny(decide(store, ("authorization", "Bearer key-sp")), AG_INVALID)


def test_json_entries_with_metadata_and_key_hash():
    store = make_store(
        secret(
            "keys",
            plain=json.dumps({"key": "key-plain", "metadata": {"name": "Plain Co", "tier": 2}}),
            hashed=json.dumps({"keyHash": sha("key-hashed"), "metadata": {"name": "Hashed Co"}}),
            upper=json.dumps({"keyHash": sha("key-upper").upper().replace("SHA256:", "sha256:")}),
        ),
        gateway(cls="agentgateway"),
        route(),
        ag_policy(targets=GW, secretRef={"name": "keys"}),
    )
    assert status(store).reason == "Valid"
    plain = decide(store, ("authorization", "Bearer key-plain"))
    assert plain.client == "plain" and plain.metadata == {"name": "Plain Co", "tier": 2}
    hashed = decide(store, ("authorization", "Bearer key-hashed"))
    assert hashed.client == "hashed" and hashed.metadata == {"name": "Hashed Co"}
    assert decide(store, ("authorization", "Bearer key-upper")).client == "upper"
    # the hash itself is not a key
    assert_deny(decide(store, ("authorization", "Bearer " + sha("key-hashed"))), AG_INVALID)


def test_json_entries_read_as_go_reads_them():
    # json.Unmarshal into APIKeyEntry: unknown fields ignored, field names matched case-insensitively, the last
    # duplicate wins, a JSON key used as written (not trimmed).
    store = entry_store(
        secret(
            "keys",
            extra=json.dumps({"key": "key-extra", "oops": 1, "metadata": {"team": "a"}}),
            folded=json.dumps({"KEY": "key-folded"}),
            twice='{"key": "key-first", "key": "key-second"}',
            spaced=json.dumps({"key": " key-spaced "}),
            nullmeta=json.dumps({"key": "key-nullmeta", "metadata": None}),
        )
    )
    assert (status(store).reason, status(store).message) == ("Valid", "Policy accepted")
    assert decide(store, ("authorization", "Bearer key-extra")).metadata == {"team": "a"}
    assert decide(store, ("authorization", "Bearer key-folded")).client == "folded"
    assert decide(store, ("authorization", "Bearer key-second")).client == "twice"
    assert_deny(decide(store, ("authorization", "Bearer key-first")), AG_INVALID)
    assert decide(store, ("authorization", "Bearer  key-spaced ")).client == "spaced"
    assert decide(store, ("authorization", "Bearer key-nullmeta")).metadata == {}


ZEROS = "0" * 64


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "empty value"),
        ("   \n", "empty value"),
        ('{"key": "a", "keyHash": "sha256:' + ZEROS + '"}', "exactly one of key or keyHash must be set"),
        ('{"metadata": {}}', "exactly one of key or keyHash must be set"),
        ('{"key": ""}', "exactly one of key or keyHash must be set"),
        ('{"keyHash": "md5:abc"}', "keyHash must use the sha256:<hex> format"),
        ('{"keyHash": "SHA256:' + ZEROS + '"}', "keyHash must use the sha256:<hex> format"),
        (
            '{"keyHash": "sha256:abc"}',
            "keyHash must contain a valid sha256 hex digest: encoding/hex: odd length hex string",
        ),
        (
            '{"keyHash": "sha256:' + "g" * 64 + '"}',
            "keyHash must contain a valid sha256 hex digest: encoding/hex: invalid byte: U+0067 'g'",
        ),
        ('{"keyHash": "sha256:' + "0" * 62 + '"}', "keyHash sha256 digest must decode to 32 bytes"),
        ("{not json", "invalid character 'n' looking for beginning of object key string"),
        ('{"key": "a"', "unexpected end of JSON input"),
        ('{"key": "a",}', "invalid character '}' looking for beginning of object key string"),
        ('{"key": "a"} trailing', "invalid character 't' after top-level value"),
        ('{"key": 5}', "json: cannot unmarshal number into Go struct field APIKeyEntry.key of type string"),
        ('{"keyHash": true}', "json: cannot unmarshal bool into Go struct field APIKeyEntry.keyHash of type string"),
        (
            '{"key": "a", "metadata": "team"}',
            "bad StructValue: json: cannot unmarshal string into Go value of type map[string]json.RawMessage",
        ),
    ],
)
def test_bad_entries_are_dropped_partially_valid(value, message):
    store = entry_store(secret("keys", bad=value, good="key-good"))
    condition = status(store)
    assert (condition.type, condition.status, condition.reason) == ("Accepted", "True", "PartiallyValid")
    assert condition.message == f"secret keys contains invalid key bad: {message}"
    assert decide(store, ("authorization", "Bearer key-good")).client == "good"


def test_errors_are_joined_with_newlines():
    store = entry_store(secret("keys", a="", b='{"metadata": {}}', good="key-good"))
    assert status(store).message == (
        "secret keys contains invalid key a: empty value\n"
        "secret keys contains invalid key b: exactly one of key or keyHash must be set"
    )


def test_config_map_hash_only():
    store = make_store(
        config_map(
            "hashes",
            labels={"keys": "yes"},
            ok=json.dumps({"keyHash": sha("key-cm"), "metadata": {"name": "cm"}}),
            raw="key-raw",
            rawjson=json.dumps({"key": "key-rawjson"}),
        ),
        gateway(cls="agentgateway"),
        route(),
        ag_policy(targets=GW, configMapSelector={"matchLabels": {"keys": "yes"}}),
    )
    condition = status(store)
    assert condition.reason == "PartiallyValid"
    rule_text = "keys sourced from a ConfigMap must use keyHash, not a raw key, since ConfigMaps are not confidential"
    assert condition.message == (
        f"configMap hashes contains invalid key raw: {rule_text}\n"
        f"configMap hashes contains invalid key rawjson: {rule_text}"
    )
    assert decide(store, ("authorization", "Bearer key-cm")).metadata == {"name": "cm"}
    assert_deny(decide(store, ("authorization", "Bearer key-raw")), AG_INVALID)
    assert_deny(decide(store, ("authorization", "Bearer key-rawjson")), AG_INVALID)


def test_custom_credential_ref_is_unsupported_and_fails_closed():
    # The CRD admits {group, kind} for a custom credential; the open-source controller resolves only Secrets
    # (controller/pkg/utils/kubeutils/secrets.go v1.4.1): no keys, PartiallyValid.
    store = ag_store(secretRef={"name": "keys", "group": "example.com", "kind": "Vault"})
    condition = status(store)
    assert (condition.status, condition.reason) == ("True", "PartiallyValid")
    assert condition.message == 'unsupported credential kind: "example.com"/"Vault"'
    assert_deny(decide(store, ("authorization", "Bearer key-alice")), AG_INVALID)
    explicit = ag_store(secretRef={"name": "keys", "group": "", "kind": "Secret"})
    assert status(explicit).reason == "Valid"
    assert decide(explicit, ("authorization", "Bearer key-alice")).client == "alice"


def test_duplicate_keys_keep_one_identity_and_say_so_by_entry_name():
    # agentgateway sorts the key list by (key, keyHash) and its proxy keeps the last entry per key, silently.
    store = entry_store(
        secret("one", labels={"k": "v"}, alice="key-shared", hashed=json.dumps({"keyHash": sha("key-mixed")})),
        secret("two", labels={"k": "v"}, bob="key-shared", raw="key-mixed"),
        secretSelector={"matchLabels": {"k": "v"}},
    )
    condition = status(store)
    assert (condition.status, condition.reason) == ("True", "Valid")
    assert condition.message.startswith("Policy accepted\n")
    assert "secret default/one entry alice, secret default/two entry bob" in condition.message
    assert "secret default/one entry hashed, secret default/two entry raw" in condition.message
    assert "key-shared" not in condition.message and "key-mixed" not in condition.message
    assert decide(store, ("authorization", "Bearer key-shared")).client == "bob"
    assert decide(store, ("authorization", "Bearer key-mixed")).client == "raw"  # a raw key beats its keyHash


def test_secret_selector_same_namespace_only():
    store = make_store(
        secret("a", labels={"k": "v"}, a="key-a"),
        secret("b", labels={"k": "v"}, b="key-b"),
        secret("c", namespace="other", labels={"k": "v"}, c="key-c"),
        gateway(cls="agentgateway"),
        route(),
        ag_policy(targets=GW, secretSelector={"matchLabels": {"k": "v"}}),
    )
    assert decide(store, ("authorization", "Bearer key-a")).client == "a"
    assert decide(store, ("authorization", "Bearer key-b")).client == "b"
    assert_deny(decide(store, ("authorization", "Bearer key-c")), AG_INVALID)


def test_missing_secret_fails_closed_in_strict():
    store = ag_store(secretRef={"name": "absent"})
    condition = status(store)
    assert (condition.reason, condition.message) == ("PartiallyValid", "secret default/absent not found")
    assert_deny(decide(store, ("authorization", "Bearer key-alice")), AG_INVALID)
    assert_deny(decide(store), AG_MISSING)
    # Optional still lets anonymous requests through but has no valid key either
    optional = ag_store(secretRef={"name": "absent"}, mode="Optional")
    assert isinstance(decide(optional), Allow)
    assert_deny(decide(optional, ("authorization", "Bearer key-alice")), AG_INVALID)


def test_status_messages_never_contain_keys():
    store = make_store(
        secret("keys", good="VerySecretGood123", badjson='{"key": "VerySecretBad456", "metadata": 1}'),
        gateway(cls="agentgateway"),
        route(),
        ag_policy(targets=GW, secretRef={"name": "keys"}),
    )
    condition = status(store)
    assert condition.reason == "PartiallyValid"
    assert "VerySecret" not in condition.message


# -- attachment ------------------------------------------------------------------------------------------------------
def test_more_precise_target_wins():
    store = make_store(
        secret("gw-keys", g="gw-key"),
        secret("rule-keys", ru="rule-key"),
        gateway(cls="agentgateway"),
        route(rules=[rule(name="a", path="/a"), rule(name="b", path="/b")]),
        ag_policy("gw-pol", targets=GW, secretRef={"name": "gw-keys"}),
        ag_policy(
            "rule-pol", targets=[target("HTTPRoute", "r", "a")], secretRef={"name": "rule-keys"}, mode="Optional"
        ),
    )
    assert decide(store, ("authorization", "Bearer rule-key"), path="/a").client == "ru"
    assert_deny(decide(store, ("authorization", "Bearer gw-key"), path="/a"), AG_INVALID)
    assert isinstance(decide(store, path="/a"), Allow)  # the rule policy's Optional mode, whole
    assert decide(store, ("authorization", "Bearer gw-key"), path="/b").client == "g"
    assert_deny(decide(store, path="/b"), AG_MISSING)


def test_an_extension_ref_leaves_the_whole_route_unprogrammed():
    # agentgateway's translator resolves no ExtensionRef (not even to an AgentgatewayPolicy): the route, all of its
    # rules, is dropped with IncompatibleFilters, so its requests find no route; other routes are unaffected.
    extref = {
        "type": "ExtensionRef",
        "extensionRef": {"group": "agentgateway.dev", "kind": "AgentgatewayPolicy", "name": "ap"},
    }
    store = ag_store(
        route(
            "ext",
            hostnames=["ext.example.com"],
            rules=[rule(path="/private", filters=[extref]), rule(path="/public")],
        ),
        mode="Optional",
    )
    for path in ("/private", "/public"):  # only the catch-all route "r" (no hostnames) is left to answer
        chosen = pick(store, host="ext.example.com", path=path)
        assert chosen is not None and chosen.route == "default/r"
    conditions = store.snapshot.route_status[("default", "ext")]
    assert [(c.type, c.status, c.reason) for c in conditions] == [("Accepted", "False", "IncompatibleFilters")]
    assert conditions[0].message == (
        "spec.rules[0].filters[0].extensionRef: unsupported ExtensionRef: agentgateway.dev/AgentgatewayPolicy"
    )
    assert isinstance(decide(store, ("authorization", "Bearer key-alice")), Allow)  # the other route is served
    assert ("default", "r") not in store.snapshot.route_status


# -- the decision function on its own ---------------------------------------------------------------------------------
def test_decide_pure_function():
    auth = agentgateway.AgentgatewayAuth(
        mode="Strict",
        location=agentgateway.DEFAULT_LOCATION,
        keys=KeyIndex({digest("k1"): Identity("Secret default/s", "entry", {"name": "n"})}),
        policy="default/p",
    )
    request = RequestParts([(b"authorization", b"bearer k1"), (b"accept", b"*/*")], b"q=1")
    decision = agentgateway.decide(auth, request)
    assert isinstance(decision, Allow)
    assert (decision.client, decision.metadata) == ("entry", {"name": "n"})
    assert decision.headers == [(b"accept", b"*/*")]
    assert decision.query_string == b"q=1"


def test_cel_expression_location_is_reported_and_fails_closed():
    # The reference gateway has no CEL engine: it says so in the status and rejects rather than opens the route.
    store = ag_store(location={"expression": 'request.headers["x-key"]'})
    condition = status(store)
    assert condition.reason == "PartiallyValid"
    assert "location.expression" in condition.message
    assert_deny(decide(store, ("x-key", "key-alice")), AG_MISSING)
