"""Manifests admitted as the API server admits them (the vendored CRDs): its messages, the file named first, and
never a Secret value. The rules themselves are tested in tests/admission."""

from __future__ import annotations

import base64

import pytest
from refsupport import ag_policy, gateway, route, secret, target, traffic_policy

from reference_impl.errors import ManifestError
from reference_impl.resources import KINDS, load_manifests, parse_manifest

GW = [target("Gateway", "gw")]


def rejected(document: dict) -> ManifestError:
    with pytest.raises(ManifestError) as caught:
        parse_manifest(document)
    return caught.value


def paths(error: ManifestError) -> dict[str, str]:
    return {e.path: e.rule for e in error.errors}


EXACTLY_ONE = "Invalid value: exactly one of the fields in [secretRef secretSelector disable] must be set"
NOT_CHECKED = (
    "Invalid value: null: some validation rules were not checked because the object was invalid; correct the "
    "existing errors to complete validation"
)


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
    assert str(error) == f'TrafficPolicy.gateway.kgateway.dev "tp" is invalid: spec.apiKeyAuth: {EXACTLY_ONE}'


def test_the_file_is_named_before_the_api_servers_message():
    with pytest.raises(ManifestError) as caught:
        load_manifests("apiVersion: gateway.kgateway.dev/v1alpha1\nkind: TrafficPolicy\nmetadata: {name: tp}\n"
                       "spec: {apiKeyAuth: {}}\n", source="policy.yaml")  # fmt: skip
    assert str(caught.value) == (
        f'policy.yaml: TrafficPolicy.gateway.kgateway.dev "tp" is invalid: spec.apiKeyAuth: {EXACTLY_ONE}'
    )


def test_kgateway_each_of_the_three_alone_is_valid():
    for fields in ({"secretRef": {"name": "a"}}, {"secretSelector": {"matchLabels": {"a": "b"}}}, {"disable": {}}):
        assert parse_manifest(traffic_policy(targets=GW, **fields)).kind == "TrafficPolicy"


def test_key_source_item_needs_one_field():
    error = rejected(traffic_policy(targets=GW, secretRef={"name": "a"}, keySources=[{"header": "x"}, {}]))
    assert paths(error) == {
        "spec.apiKeyAuth.keySources[1]": "Invalid value: at least one of the fields in [header query "
        "cookie] must be set"
    }


def test_at_most_16_key_sources():
    parse_manifest(traffic_policy(targets=GW, secretRef={"name": "a"}, keySources=[{"header": "x"}] * 16))
    error = rejected(traffic_policy(targets=GW, secretRef={"name": "a"}, keySources=[{"header": "x"}] * 17))
    assert paths(error) == {
        "spec.apiKeyAuth.keySources": "Too many: 17: must have at most 16 items",
        "<nil>": NOT_CHECKED,
    }


@pytest.mark.parametrize("field", ["header", "query", "cookie"])
def test_key_source_name_lengths(field):
    parse_manifest(traffic_policy(targets=GW, secretRef={"name": "a"}, keySources=[{field: "x" * 256}]))
    where = f"spec.apiKeyAuth.keySources[0].{field}"
    too_long = rejected(traffic_policy(targets=GW, secretRef={"name": "a"}, keySources=[{field: "x" * 257}]))
    assert paths(too_long) == {where: "Too long: may not be more than 256 bytes", "<nil>": NOT_CHECKED}
    empty = rejected(traffic_policy(targets=GW, secretRef={"name": "a"}, keySources=[{field: ""}]))
    assert paths(empty) == {where: f'Invalid value: "": {where} in body should be at least 1 chars long'}


def test_client_id_header_has_no_length_rule():
    # The CRD gives clientIdHeader no constraint at all; what the data plane cannot use is a translation error.
    assert parse_manifest(traffic_policy(targets=GW, secretRef={"name": "a"}, clientIdHeader="")).kind


@pytest.mark.parametrize("kind", ["Gateway", "HTTPRoute", "GRPCRoute"])
def test_target_ref_kinds_allowed(kind):
    parse_manifest(traffic_policy(targets=[target(kind, "x")], secretRef={"name": "a"}))


def test_target_ref_listener_set_allowed():
    ref = {"group": "gateway.networking.x-k8s.io", "kind": "XListenerSet", "name": "ls"}
    parse_manifest(traffic_policy(targets=[ref], secretRef={"name": "a"}))


def test_target_ref_other_kind_rejected():
    error = rejected(traffic_policy(targets=[target("Service", "svc")], secretRef={"name": "a"}))
    assert paths(error) == {
        "spec.targetRefs": "Invalid value: targetRefs may only reference Gateway, HTTPRoute, GRPCRoute, or "
        "ListenerSet resources"
    }


def test_target_ref_group_is_required():
    ref = {"kind": "Gateway", "name": "gw"}
    error = rejected(traffic_policy(targets=[ref], secretRef={"name": "a"}))
    assert "spec.targetRefs[0].group" in paths(error)
    assert paths(error)["spec.targetRefs[0].group"] == "Required value"


def test_target_refs_count():
    error = rejected(traffic_policy(targets=[], secretRef={"name": "a"}))
    assert paths(error) == {"spec.targetRefs": "Invalid value: 0: spec.targetRefs in body should have at least 1 items"}
    parse_manifest(traffic_policy(targets=[target("Gateway", f"g{i}") for i in range(16)], secretRef={"name": "a"}))
    error = rejected(traffic_policy(targets=[target("Gateway", f"g{i}") for i in range(17)], secretRef={"name": "a"}))
    assert paths(error)["spec.targetRefs"] == "Too many: 17: must have at most 16 items"


def test_target_ref_cannot_name_another_namespace():
    ref = {**target("Gateway", "gw"), "namespace": "other"}
    error = rejected(traffic_policy(targets=[ref], secretRef={"name": "a"}))
    assert paths(error) == {"spec.targetRefs[0].namespace": 'unknown field "spec.targetRefs[0].namespace"'}


def test_unknown_fields_are_named():
    error = rejected(traffic_policy(targets=GW, secretRef={"name": "a"}, keySource=[{"header": "x"}]))
    assert paths(error) == {"spec.apiKeyAuth.keySource": 'unknown field "spec.apiKeyAuth.keySource"'}
    error = rejected(traffic_policy(targets=GW, secretRef={"name": "a", "nmae": "b"}))
    assert paths(error) == {"spec.apiKeyAuth.secretRef.nmae": 'unknown field "spec.apiKeyAuth.secretRef.nmae"'}


def test_selector_needs_a_requirement():
    error = rejected(traffic_policy(targets=GW, secretSelector={}))
    assert paths(error) == {
        "spec.apiKeyAuth.secretSelector": "Invalid value: 0: spec.apiKeyAuth.secretSelector in body should have at "
        "least 1 properties"
    }


def test_match_expressions_belong_to_the_newest_kgateway_api():
    selector = {"matchExpressions": [{"key": "app", "operator": "In", "values": ["a"]}]}
    policy = traffic_policy(targets=GW, secretSelector=selector)
    view = parse_manifest(policy)
    assert view.spec.api_key_auth.secret_selector.match_expressions[0].operator == "In"
    with pytest.raises(ManifestError) as caught:
        parse_manifest(policy, release={"kgateway": "v2.3.x"})
    where = "spec.apiKeyAuth.secretSelector.matchExpressions"
    assert paths(caught.value) == {where: f'unknown field "{where}"'}


def test_secret_ref_name_length():
    error = rejected(traffic_policy(targets=GW, secretRef={"name": "x" * 254}))
    assert paths(error) == {
        "spec.apiKeyAuth.secretRef.name": "Too long: may not be more than 253 bytes",
        "<nil>": NOT_CHECKED,
    }


def test_kgateway_secret_ref_admits_any_group_and_kind():
    # The CRD only checks the syntax; whether kgateway can resolve the reference is a status condition.
    view = parse_manifest(traffic_policy(targets=GW, secretRef={"name": "a", "group": "example.com", "kind": "Vault"}))
    assert (view.spec.api_key_auth.secret_ref.group, view.spec.api_key_auth.secret_ref.kind) == ("example.com", "Vault")


def test_several_errors_reported_together():
    error = rejected(traffic_policy(targets=[target("Service", "s")], keySources=[{}]))
    assert set(paths(error)) == {"spec.targetRefs", "spec.apiKeyAuth.keySources[0]", "spec.apiKeyAuth"}
    assert str(error).startswith('TrafficPolicy.gateway.kgateway.dev "tp" is invalid: [spec.apiKeyAuth: ')


# -- agentgateway ---------------------------------------------------------------------------------------------
AG_EXACTLY_ONE = "Invalid value: exactly one of the fields in [secretRef secretSelector configMapSelector] must be set"


def test_agentgateway_exactly_one_key_source():
    error = rejected(ag_policy(targets=GW))
    assert paths(error) == {"spec.traffic.apiKeyAuthentication": AG_EXACTLY_ONE}
    error = rejected(ag_policy(targets=GW, secretRef={"name": "a"}, configMapSelector={"matchLabels": {"a": "b"}}))
    assert paths(error) == {"spec.traffic.apiKeyAuthentication": AG_EXACTLY_ONE}


def test_agentgateway_location_exactly_one():
    error = rejected(
        ag_policy(targets=GW, secretRef={"name": "a"}, location={"header": {"name": "x"}, "cookie": {"name": "c"}})
    )
    assert paths(error) == {
        "spec.traffic.apiKeyAuthentication.location": "Invalid value: exactly one of the fields in [header "
        "queryParameter cookie expression] must be set"
    }


def test_agentgateway_mode_values():
    for mode in ("Strict", "Optional", "Permissive"):
        parse_manifest(ag_policy(targets=GW, secretRef={"name": "a"}, mode=mode))
    error = rejected(ag_policy(targets=GW, secretRef={"name": "a"}, mode="Lenient"))
    assert paths(error) == {
        "spec.traffic.apiKeyAuthentication.mode": 'Unsupported value: "Lenient": supported values: "Optional", '
        '"Permissive", "Strict"',
        "<nil>": NOT_CHECKED,
    }


def test_agentgateway_secret_ref_has_no_namespace():
    error = rejected(ag_policy(targets=GW, secretRef={"name": "a", "namespace": "other"}))
    where = "spec.traffic.apiKeyAuthentication.secretRef.namespace"
    assert paths(error) == {where: f'unknown field "{where}"'}


def test_agentgateway_secret_ref_group_and_kind():
    for ref in (
        {"name": "a", "kind": "Secret"},
        {"name": "a", "group": "", "kind": ""},
        {"name": "a", "group": "x.io", "kind": "Vault"},
    ):
        view = parse_manifest(ag_policy(targets=GW, secretRef=ref))
        assert view.spec.traffic.api_key_authentication.secret_ref.name == "a"
    error = rejected(ag_policy(targets=GW, secretRef={"name": "a", "group": "x.io"}))
    assert paths(error) == {
        "spec.traffic.apiKeyAuthentication.secretRef": "Invalid value: custom credential refs must set "
        "both group and kind"
    }


# -- Gateway API -------------------------------------------------------------------------------------------------
def test_gateway_listener_port_and_route_path_rules():
    bad_gw = gateway(listeners=[{"name": "http", "port": 70000, "protocol": "HTTP"}])
    assert paths(rejected(bad_gw)) == {
        "spec.listeners[0].port": "Invalid value: 70000: spec.listeners[0].port in body should be less than or equal "
        "to 65535"
    }
    bad_route = route(rules=[{"matches": [{"path": {"type": "PathPrefix", "value": "no-slash"}}]}])
    assert paths(rejected(bad_route)) == {
        "spec.rules[0].matches[0].path": "Invalid value: value must be an absolute path and start with '/' "
        "when type one of ['Exact', 'PathPrefix']"
    }


def test_unknown_kind_and_bad_yaml_are_clear():
    with pytest.raises(ManifestError) as caught:
        load_manifests("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n")
    assert str(caught.value) == 'Pod "p" is invalid: kind: no matches for kind "Pod" in version "v1"'
    with pytest.raises(ManifestError) as caught:
        load_manifests("a: [unclosed\n", source="broken.yaml")
    assert "broken.yaml" in str(caught.value) and "line" in str(caught.value)


def test_an_admitted_kind_the_gateway_does_not_serve_is_named():
    document = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass", "metadata": {"name": "gc"},
                "spec": {"controllerName": "example.com/gateway"}}  # fmt: skip
    error = rejected(document)
    assert paths(error) == {"kind": "expected one of " + ", ".join(KINDS) + "; got 'GatewayClass'"}


# -- never a Secret value ------------------------------------------------------------------------------------------
SECRET_VALUE = "TopSecretValue-do-not-print-7781"


def test_invalid_base64_error_names_entry_not_value():
    doc = secret("s")
    doc["data"] = {"token": SECRET_VALUE + "!!"}
    error = rejected(doc)
    assert paths(error) == {"data[token]": "illegal base64 data at input byte 14"}
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


@pytest.mark.parametrize("depth", [65, 999, 1001, 5000])
def test_deep_nesting_gets_the_projects_own_words_whatever_the_yaml_library_says(depth):
    """The YAML library may refuse deep nesting itself, in words of its own that change between releases (libyaml
    stops at 1,000 flow levels since PyYAML 6.0.4); this project's limit and message come first, at any depth."""
    with pytest.raises(ManifestError, match="nested more than 64 levels deep"):
        load_manifests("a: " + "[" * depth + "]" * depth, source="deep.yaml")


def test_a_yaml_library_error_is_still_reported_with_its_position(monkeypatch):
    import yaml

    def refuse(*args, **kwargs):
        raise yaml.scanner.ScannerError("while scanning", None, "some wording of the library's own", None)

    monkeypatch.setattr(yaml, "load_all", refuse)
    with pytest.raises(ManifestError, match="not valid YAML: while scanning, some wording") as caught:
        load_manifests("a: " + "[" * 10 + "]" * 10, source="deep.yaml")
    assert "nested more than" not in str(caught.value)  # a shallow stream the library refused for other reasons
    with pytest.raises(ManifestError, match="nested more than 64 levels deep"):
        load_manifests("a: " + "[" * 3000 + "]" * 3000, source="deep.yaml")
