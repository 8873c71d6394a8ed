"""Gateway API routing: listener port, hostnames, path / method / header matches, precedence, dialect by class."""

from __future__ import annotations

from refsupport import (
    AG_MISSING,
    KG_401,
    ag_policy,
    decide,
    gateway,
    headers,
    make_store,
    pick,
    route,
    rule,
    secret,
    target,
    traffic_policy,
)


def served(store, **kwargs):
    chosen = pick(store, **kwargs)
    return chosen.route.split("/")[1] + ":" + str(chosen.name or chosen.index) if chosen else None


def listeners(*items):
    return [
        {
            "name": name,
            "port": port,
            "protocol": "HTTP",
            **({"hostname": host} if host else {}),
            "allowedRoutes": {"namespaces": {"from": "All"}},
        }
        for name, port, host in items
    ]


def test_listener_port_and_section_name():
    store = make_store(
        gateway(listeners=listeners(("a", 8080, None), ("b", 9090, None))),
        route("on-a", section="a", rules=[rule(name="x")]),
        route("on-b", section="b", rules=[rule(name="y")]),
    )
    assert served(store, port=8080) == "on-a:x"
    assert served(store, port=9090) == "on-b:y"
    assert served(store, port=7070) is None


def test_hostnames_exact_and_wildcard():
    store = make_store(
        gateway(),
        route("exact", hostnames=["www.example.com"]),
        route("wild", hostnames=["*.example.com"]),
        route("other", hostnames=["api.other.org"]),
    )
    assert served(store, host="www.example.com") == "exact:0"
    assert served(store, host="foo.example.com") == "wild:0"
    assert served(store, host="a.b.example.com") == "wild:0"
    assert served(store, host="example.com") is None  # "*." needs at least one more label
    assert served(store, host="api.other.org") == "other:0"
    assert served(store, host="nothing.test") is None


def test_route_without_hostnames_is_catch_all_and_exact_wins():
    store = make_store(gateway(), route("any"), route("exact", hostnames=["www.example.com"]))
    assert served(store, host="www.example.com") == "exact:0"
    assert served(store, host="elsewhere.test") == "any:0"


def test_listener_hostname_restricts_routes():
    store = make_store(
        gateway(listeners=listeners(("h", 8080, "*.example.com"))),
        route("inside", hostnames=["www.example.com"]),
        route("outside", hostnames=["www.other.org"]),
    )
    assert served(store, host="www.example.com") == "inside:0"
    assert served(store, host="www.other.org") is None


def test_path_prefix_is_segment_wise_and_exact_is_exact():
    store = make_store(
        gateway(),
        route(
            rules=[
                rule(name="prefix", path="/api"),
                rule(name="exact", path="/login", path_type="Exact"),
                rule(name="slash", path="/docs/"),
            ]
        ),
    )
    assert served(store, path="/api") == "r:prefix"
    assert served(store, path="/api/") == "r:prefix"
    assert served(store, path="/api/v1") == "r:prefix"
    assert served(store, path="/apiv1") is None
    assert served(store, path="/login") == "r:exact"
    assert served(store, path="/login/") is None
    assert served(store, path="/docs") == "r:slash"
    assert served(store, path="/docs/x") == "r:slash"
    assert served(store, path="/other") is None


def test_method_and_header_matches():
    store = make_store(
        gateway(),
        route(
            rules=[
                rule(name="post", path="/x", method="POST"),
                rule(name="canary", path="/x", headers={"X-Canary": "yes"}),
                rule(name="plain", path="/x"),
            ]
        ),
    )
    assert served(store, path="/x", method="POST") == "r:post"
    assert served(store, path="/x", hs=headers(("x-canary", "yes"))) == "r:canary"
    assert served(store, path="/x", hs=headers(("x-canary", "no"))) == "r:plain"
    assert served(store, path="/x") == "r:plain"


def test_query_param_matches_read_the_first_decoded_value():
    store = make_store(
        gateway(),
        route(rules=[rule(name="v2", path="/x", query={"version": "2 beta"}), rule(name="plain", path="/x")]),
    )
    assert served(store, path="/x", query=b"version=2%20beta") == "r:v2"
    assert served(store, path="/x", query=b"a=1&version=2%20beta&version=3") == "r:v2"
    assert served(store, path="/x", query=b"version=3&version=2%20beta") == "r:plain"  # only the first counts
    assert served(store, path="/x", query=b"") == "r:plain"


def test_precedence_exact_then_longest_prefix_then_method_then_headers():
    store = make_store(
        gateway(),
        route("first", rules=[rule(name="short", path="/a"), rule(name="hdr", path="/a/b", headers={"h": "1"})]),
        route(
            "second",
            rules=[
                rule(name="long", path="/a/b"),
                rule(name="exact", path="/a/b", path_type="Exact"),
                rule(name="method", path="/a/b", method="GET"),
            ],
        ),
    )
    assert served(store, path="/a/b") == "second:exact"
    assert served(store, path="/a/b/c", hs=headers(("h", "1"))) == "second:method"
    assert served(store, path="/a/b/c", method="PUT", hs=headers(("h", "1"))) == "first:hdr"
    assert served(store, path="/a/b/c", method="PUT") == "second:long"
    assert served(store, path="/a/z") == "first:short"


def test_ties_go_to_the_oldest_route():
    store = make_store(gateway(), route("zz-old"), route("aa-new"))
    assert served(store) == "zz-old:0"


def test_route_must_reference_the_gateway_and_be_allowed():
    same_only = [{"name": "http", "port": 8080, "protocol": "HTTP"}]  # allowedRoutes default: Same namespace
    store = make_store(
        gateway(listeners=same_only),
        route("elsewhere", namespace="other", parent="gw"),
        route("wrong-parent", parent="nope"),
    )
    assert served(store) is None
    cross = route("elsewhere", namespace="other", parent="gw")
    cross["spec"]["parentRefs"][0]["namespace"] = "default"
    store = make_store(gateway(), cross)
    assert served(store) == "elsewhere:0"


def test_only_gateway_parents_and_http_listeners_attach():
    # Admission accepts any parentRef kind and listener protocol; only Gateway parents and HTTP(S) listeners serve.
    other_kind = route("listenerset")
    other_kind["spec"]["parentRefs"][0].update(group="gateway.networking.k8s.io", kind="ListenerSet")
    tcp = [{"name": "tcp", "port": 8080, "protocol": "TCP", "allowedRoutes": {"namespaces": {"from": "All"}}}]
    assert served(make_store(gateway(), other_kind)) is None
    assert served(make_store(gateway(listeners=tcp), route())) is None


def test_a_match_type_the_gateway_cannot_apply_takes_the_route_out_and_says_so():
    regex = route("regex", rules=[rule(path="/adm.*", path_type="RegularExpression")])
    store = make_store(gateway(), regex, route("open", rules=[rule(path="/")]))
    assert served(store, path="/admin") == "open:0"  # the route is not served; nothing of it matches anything
    conditions = store.snapshot.route_status[("default", "regex")]
    assert [(c.type, c.status, c.reason, c.message) for c in conditions] == [
        (
            "Accepted",
            "False",
            "UnsupportedValue",
            "spec.rules[0].matches[0].path.type: RegularExpression is not supported",
        )
    ]


def test_a_filter_type_the_gateway_cannot_apply_answers_500():
    redirect = rule(filters=[{"type": "ResponseHeaderModifier", "responseHeaderModifier": {"remove": ["server"]}}])
    store = make_store(gateway(), route(rules=[redirect]))
    decision = decide(store)
    assert (decision.status, decision.body) == (500, b"route rule filter could not be applied")
    conditions = store.snapshot.route_status[("default", "r")]
    assert [(c.type, c.reason) for c in conditions] == [("Accepted", "UnsupportedValue")]
    assert conditions[0].message == "spec.rules[0].filters[0].type: filter type ResponseHeaderModifier is not supported"


def test_gateway_class_picks_the_dialect():
    documents = [
        secret("keys", a="the-key"),
        traffic_policy("tp", targets=[target("Gateway", "gw")], secretRef={"name": "keys"}),
        ag_policy("ap", targets=[target("Gateway", "gw")], secretRef={"name": "keys"}),
        route(),
    ]
    kg = make_store(gateway(cls="kgateway"), *documents)
    assert decide(kg).body == KG_401
    assert decide(kg, ("api-key", "the-key")).client == "a"
    assert decide(kg, ("authorization", "Bearer the-key")).body == KG_401

    ag = make_store(gateway(cls="agentgateway"), *documents)
    assert decide(ag).body == AG_MISSING
    assert decide(ag, ("authorization", "Bearer the-key")).client == "a"


def test_unknown_gateway_class_is_not_served_and_reported():
    store = make_store(gateway(cls="istio"), route())
    assert store.snapshot.table(8080) is None
    condition = store.snapshot.gateway_status[("default", "gw")]
    assert condition.status == "False" and "istio" in condition.message
