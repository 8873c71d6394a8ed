"""CRD validation: every error names the resource, the field path and the rule, and never a Secret value."""

from __future__ import annotations

import base64

import pytest
from refsupport import ag_policy, gateway, route, secret, target, traffic_policy

from reference_impl.errors import ManifestError
from reference_impl.resources import load_manifests, parse_manifest

GW = [target("Gateway", "gw")]


def rejected(document: dict) -> ManifestError:
    with pytest.raises(ManifestError) as caught:
        parse_manifest(document)
    return caught.value


def paths(error: ManifestError) -> dict[str, str]:
    return {e.path: e.rule for e in error.errors}


EXACTLY_ONE = "exactly one of the fields in [secretRef secretSelector disable] must be set"


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"secretRef": {"name": "a"}, "disable": {}},
        {"secretRef": {"name": "a"}, "secretSelector": {"matchLabels": {"a": "b"}}},
        {"secretSelector": {"matchLabels": {"a": "b"}}, "disable": {}},
    ],
)
def test_kgateway_exactly_one_of(fields):
    error = rejected(traffic_policy(targets=GW, **fields))
    assert paths(error) == {"spec.apiKeyAuth": EXACTLY_ONE}
    assert str(error).startswith("TrafficPolicy default/tp is invalid: ")
    assert EXACTLY_ONE in str(error)


def test_kgateway_each_of_the_three_alone_is_valid():
    for fields in ({"secretRef": {"name": "a"}}, {"secretSelector": {"matchLabels": {"a": "b"}}}, {"disable": {}}):
        assert parse_manifest(traffic_policy(targets=GW, **fields)).kind == "TrafficPolicy"


def test_key_source_item_needs_one_field():
    error = rejected(traffic_policy(targets=GW, secretRef={"name": "a"}, keySources=[{"header": "x"}, {}]))
    assert paths(error) == {
        "spec.apiKeyAuth.keySources[1]": "at least one of the fields in [header query cookie] must be set"
    }


def test_at_most_16_key_sources():
    parse_manifest(traffic_policy(targets=GW, secretRef={"name": "a"}, keySources=[{"header": "x"}] * 16))
    error = rejected(traffic_policy(targets=GW, secretRef={"name": "a"}, keySources=[{"header": "x"}] * 17))
    assert "spec.apiKeyAuth.keySources" in paths(error)
    assert "16" in paths(error)["spec.apiKeyAuth.keySources"]


@pytest.mark.parametrize("field", ["header", "query", "cookie"])
def test_key_source_name_lengths(field):
    parse_manifest(traffic_policy(targets=GW, secretRef={"name": "a"}, keySources=[{field: "x" * 256}]))
    too_long = rejected(traffic_policy(targets=GW, secretRef={"name": "a"}, keySources=[{field: "x" * 257}]))
    assert f"spec.apiKeyAuth.keySources[0].{field}" in paths(too_long)
    assert "256" in paths(too_long)[f"spec.apiKeyAuth.keySources[0].{field}"]
    empty = rejected(traffic_policy(targets=GW, secretRef={"name": "a"}, keySources=[{field: ""}]))
    assert "at least 1" in paths(empty)[f"spec.apiKeyAuth.keySources[0].{field}"]


@pytest.mark.parametrize("kind", ["Gateway", "HTTPRoute", "GRPCRoute"])
def test_target_ref_kinds_allowed(kind):
    parse_manifest(traffic_policy(targets=[target(kind, "x")], secretRef={"name": "a"}))


def test_target_ref_listener_set_allowed():
    ref = {"group": "gateway.networking.x-k8s.io", "kind": "XListenerSet", "name": "ls"}
    parse_manifest(traffic_policy(targets=[ref], secretRef={"name": "a"}))


def test_target_ref_other_kind_rejected():
    error = rejected(traffic_policy(targets=[target("Service", "svc")], secretRef={"name": "a"}))
    rule = paths(error)["spec.targetRefs"]
    assert "Gateway" in rule and "HTTPRoute" in rule and "Service" in rule


def test_target_refs_count():
    assert "spec.targetRefs" in paths(rejected(traffic_policy(targets=[], secretRef={"name": "a"})))
    parse_manifest(traffic_policy(targets=[target("Gateway", f"g{i}") for i in range(16)], secretRef={"name": "a"}))
    error = rejected(traffic_policy(targets=[target("Gateway", f"g{i}") for i in range(17)], secretRef={"name": "a"}))
    assert "16" in paths(error)["spec.targetRefs"]


def test_target_ref_cannot_name_another_namespace():
    ref = {**target("Gateway", "gw"), "namespace": "other"}
    error = rejected(traffic_policy(targets=[ref], secretRef={"name": "a"}))
    assert paths(error) == {"spec.targetRefs[0].namespace": "unknown field"}


def test_unknown_fields_are_named():
    error = rejected(traffic_policy(targets=GW, secretRef={"name": "a"}, keySource=[{"header": "x"}]))
    assert paths(error) == {"spec.apiKeyAuth.keySource": "unknown field"}
    error = rejected(traffic_policy(targets=GW, secretRef={"name": "a", "nmae": "b"}))
    assert paths(error) == {"spec.apiKeyAuth.secretRef.nmae": "unknown field"}


def test_selector_needs_match_labels():
    error = rejected(traffic_policy(targets=GW, secretSelector={}))
    assert paths(error) == {"spec.apiKeyAuth.secretSelector.matchLabels": "Required value"}


def test_secret_ref_name_length():
    error = rejected(traffic_policy(targets=GW, secretRef={"name": "x" * 254}))
    assert "spec.apiKeyAuth.secretRef.name" in paths(error)


def test_several_errors_reported_together():
    error = rejected(traffic_policy(targets=[target("Service", "s")], keySources=[{}]))
    found = paths(error)
    assert "spec.targetRefs" in found
    assert "spec.apiKeyAuth.keySources[0]" in found or "spec.apiKeyAuth" in found


# -- agentgateway ---------------------------------------------------------------------------------------------
def test_agentgateway_exactly_one_key_source():
    error = rejected(ag_policy(targets=GW))
    assert paths(error) == {
        "spec.traffic.apiKeyAuthentication": "exactly one of secretRef, secretSelector or configMapSelector must be set"
    }
    error = rejected(ag_policy(targets=GW, secretRef={"name": "a"}, configMapSelector={"matchLabels": {"a": "b"}}))
    assert "spec.traffic.apiKeyAuthentication" in paths(error)


def test_agentgateway_location_exactly_one():
    error = rejected(
        ag_policy(targets=GW, secretRef={"name": "a"}, location={"header": {"name": "x"}, "cookie": {"name": "c"}})
    )
    assert "spec.traffic.apiKeyAuthentication.location" in paths(error)
    assert "exactly one" in paths(error)["spec.traffic.apiKeyAuthentication.location"]


def test_agentgateway_mode_values():
    for mode in ("Strict", "Optional", "Permissive"):
        parse_manifest(ag_policy(targets=GW, secretRef={"name": "a"}, mode=mode))
    error = rejected(ag_policy(targets=GW, secretRef={"name": "a"}, mode="Lenient"))
    assert "spec.traffic.apiKeyAuthentication.mode" in paths(error)


def test_agentgateway_secret_ref_has_no_namespace():
    error = rejected(ag_policy(targets=GW, secretRef={"name": "a", "namespace": "other"}))
    assert paths(error) == {"spec.traffic.apiKeyAuthentication.secretRef.namespace": "unknown field"}


# -- Gateway API -------------------------------------------------------------------------------------------------
def test_gateway_listener_port_and_route_path_rules():
    bad_gw = gateway(listeners=[{"name": "http", "port": 70000}])
    assert "spec.listeners[0].port" in paths(rejected(bad_gw))
    bad_route = route(rules=[{"matches": [{"path": {"type": "PathPrefix", "value": "no-slash"}}]}])
    assert "spec.rules[0].matches[0].path.value" in paths(rejected(bad_route))


def test_unknown_kind_and_bad_yaml_are_clear():
    with pytest.raises(ManifestError) as caught:
        load_manifests("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n")
    assert "kind" in str(caught.value) and "Pod" in str(caught.value)
    with pytest.raises(ManifestError) as caught:
        load_manifests("a: [unclosed\n", source="broken.yaml")
    assert "broken.yaml" in str(caught.value) and "line" in str(caught.value)


# -- never a Secret value ------------------------------------------------------------------------------------------
SECRET_VALUE = "TopSecretValue-do-not-print-7781"


def test_invalid_base64_error_names_entry_not_value():
    doc = secret("s")
    doc["data"] = {"token": SECRET_VALUE + "!!"}
    error = rejected(doc)
    assert "data" in paths(error)
    assert "token" in str(error)
    assert SECRET_VALUE not in str(error)
    assert SECRET_VALUE not in repr(error.errors)


def test_secret_errors_never_echo_values():
    documents = []
    wrong_type = secret("s")
    wrong_type["stringData"] = {"a": [SECRET_VALUE]}
    documents.append(wrong_type)
    not_a_map = secret("s")
    not_a_map["data"] = SECRET_VALUE
    documents.append(not_a_map)
    bad_entry = secret("s")
    bad_entry["data"] = {"bad name!": base64.b64encode(SECRET_VALUE.encode()).decode()}
    documents.append(bad_entry)
    extra = secret("s", a="x")
    extra["stringdata"] = {"a": SECRET_VALUE}
    documents.append(extra)
    for document in documents:
        error = rejected(document)
        assert SECRET_VALUE not in str(error)
        assert SECRET_VALUE not in repr(error.errors)
        assert base64.b64encode(SECRET_VALUE.encode()).decode() not in str(error)


def test_yaml_error_does_not_quote_the_document():
    text = f"apiVersion: v1\nkind: Secret\nmetadata: {{name: s}}\nstringData:\n  a: {SECRET_VALUE}\n  b: [\n"
    with pytest.raises(ManifestError) as caught:
        load_manifests(text, source="keys.yaml")
    assert SECRET_VALUE not in str(caught.value)
