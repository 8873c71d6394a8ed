"""The real CRD rules, including every place where hand-written admission used to drift from them. Each case
names the exact message the API server gives for the same manifest."""

from __future__ import annotations

import pytest
from builders import GATEWAY_TARGET, ROUTE_TARGET, UNCHECKED, agentgateway_policy, traffic_policy

from reference_impl.admission import AdmissionError, admit
from reference_impl.errors import ManifestError

TP = 'TrafficPolicy.gateway.kgateway.dev "p" is invalid: '
AP = 'AgentgatewayPolicy.agentgateway.dev "p" is invalid: '
SECRET_REF = {"secretRef": {"name": "keys"}}


def rejected(document: dict, release: dict | None = None) -> AdmissionError:
    with pytest.raises(AdmissionError) as caught:
        admit(document, release=release)
    assert isinstance(caught.value, ManifestError)
    return caught.value


@pytest.mark.parametrize(
    "fields",
    [{}, {**SECRET_REF, "disable": {}}, {**SECRET_REF, "secretSelector": {"matchLabels": {"a": "b"}}}],
)
def test_kgateway_exactly_one_source(fields):
    error = rejected(traffic_policy(fields))
    assert str(error) == TP + (
        "spec.apiKeyAuth: Invalid value: exactly one of the fields in [secretRef secretSelector disable] must be set"
    )
    assert [(e.path, e.rule.split(": ")[0]) for e in error.errors] == [("spec.apiKeyAuth", "Invalid value")]


def test_kgateway_target_group_is_required():
    error = rejected(traffic_policy(SECRET_REF, targetRefs=[{"kind": "Gateway", "name": "gw"}]))
    assert str(error) == TP + f"[spec.targetRefs[0].group: Required value, {UNCHECKED}]"


def test_kgateway_secret_namespace_pattern():
    error = rejected(traffic_policy({"secretRef": {"name": "keys", "namespace": "Team_A"}}))
    assert str(error) == TP + (
        'spec.apiKeyAuth.secretRef.namespace: Invalid value: "Team_A": spec.apiKeyAuth.secretRef.namespace in body '
        "should match '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'"
    )


@pytest.mark.parametrize("release", [None, {"kgateway": "v2.3.x"}])
def test_kgateway_client_id_header_has_no_minimum_length(release):
    admitted = admit(traffic_policy({**SECRET_REF, "clientIdHeader": ""}), release=release)
    assert admitted["spec"]["apiKeyAuth"]["clientIdHeader"] == ""


@pytest.mark.parametrize("release", [None, {"kgateway": "v2.3.x"}])
def test_kgateway_target_group_is_not_restricted(release):
    target = {"group": "example.com", "kind": "Gateway", "name": "gw"}
    assert admit(traffic_policy(SECRET_REF, targetRefs=[target]), release=release)["spec"]["targetRefs"] == [target]


def test_kgateway_target_selectors_are_validated():
    selector = {"group": "gateway.networking.k8s.io", "kind": "Service", "matchLabels": {"app": "a"}}
    no_refs = traffic_policy(SECRET_REF, targetSelectors=[selector])
    del no_refs["spec"]["targetRefs"]
    assert str(rejected(no_refs)) == TP + (
        "spec.targetSelectors: Invalid value: targetSelectors may only reference Gateway, HTTPRoute, "
        "GRPCRoute, or ListenerSet resources"
    )
    missing_group = traffic_policy(SECRET_REF, targetSelectors=[{"kind": "Gateway", "matchLabels": {"a": "b"}}])
    del missing_group["spec"]["targetRefs"]
    assert str(rejected(missing_group)) == TP + f"[spec.targetSelectors[0].group: Required value, {UNCHECKED}]"


def test_kgateway_key_source_needs_a_field_and_at_most_sixteen():
    error = rejected(traffic_policy({**SECRET_REF, "keySources": [{}]}))
    assert str(error) == TP + (
        "spec.apiKeyAuth.keySources[0]: Invalid value: at least one of the fields in [header query cookie] must be set"
    )
    error = rejected(traffic_policy({**SECRET_REF, "keySources": [{"header": "h"}] * 17}))
    assert str(error) == TP + f"[spec.apiKeyAuth.keySources: Too many: 17: must have at most 16 items, {UNCHECKED}]"


def test_forward_credential_yes_is_not_a_boolean():
    error = rejected(traffic_policy({**SECRET_REF, "forwardCredential": "yes"}))
    assert str(error) == TP + (
        '[spec.apiKeyAuth.forwardCredential: Invalid value: "string": spec.apiKeyAuth.forwardCredential in body '
        f'must be of type boolean: "string", {UNCHECKED}]'
    )


def test_agentgateway_secret_ref_with_kind_secret_is_valid():
    auth = {"secretRef": {"name": "keys", "kind": "Secret"}}
    for release in (None, {"agentgateway": "v1.3.1"}):
        admitted = admit(agentgateway_policy(auth), release=release)
        assert admitted["spec"]["traffic"]["apiKeyAuthentication"]["secretRef"] == auth["secretRef"]


@pytest.mark.parametrize("ref", [{"group": "example.com"}, {"kind": "Vault"}])
def test_agentgateway_custom_ref_needs_group_and_kind(ref):
    error = rejected(agentgateway_policy({"secretRef": {"name": "keys", **ref}}))
    assert str(error) == AP + (
        "spec.traffic.apiKeyAuthentication.secretRef: Invalid value: custom credential refs must set both "
        "group and kind"
    )
    both = {"secretRef": {"name": "keys", "group": "example.com", "kind": "Vault"}}
    assert admit(agentgateway_policy(both))["spec"]["traffic"]["apiKeyAuthentication"]["secretRef"]["kind"] == "Vault"


def test_agentgateway_header_name_is_a_token():
    error = rejected(agentgateway_policy({**SECRET_REF, "location": {"header": {"name": "x api key"}}}))
    path = "spec.traffic.apiKeyAuthentication.location.header.name"
    assert str(error) == AP + (
        f"{path}: Invalid value: \"x api key\": {path} in body should match '^[A-Za-z0-9!#$%&'*+\\-.^_\\x60|~]+$'"
    )


def test_agentgateway_prefix_is_at_least_one_character():
    error = rejected(agentgateway_policy({**SECRET_REF, "location": {"header": {"name": "x", "prefix": ""}}}))
    path = "spec.traffic.apiKeyAuthentication.location.header.prefix"
    assert str(error) == AP + f'{path}: Invalid value: "": {path} in body should be at least 1 chars long'


def test_agentgateway_rejects_xlistenerset_targets():
    target = {"group": "gateway.networking.x-k8s.io", "kind": "XListenerSet", "name": "ls"}
    error = rejected(agentgateway_policy(targetRefs=[target]))
    assert [str(e) for e in error.errors] == [
        "spec: Invalid value: the 'traffic' field can only target a Gateway, ListenerSet, GRPCRoute, "
        "HTTPRoute, or InferencePool",
        "spec.targetRefs: Invalid value: targetRefs may only reference Gateway, HTTPRoute, GRPCRoute, "
        "ListenerSet, Service, AgentgatewayBackend, or InferencePool resources",
    ]


def test_agentgateway_one_kind_of_target_ref():
    error = rejected(agentgateway_policy(targetRefs=[GATEWAY_TARGET, ROUTE_TARGET]))
    assert str(error) == AP + "spec.targetRefs: Invalid value: Only one Kind of targetRef can be set on one policy"


@pytest.mark.parametrize("both", [True, False])
def test_agentgateway_exactly_one_of_target_refs_and_selectors(both):
    selector = {"group": "gateway.networking.k8s.io", "kind": "Gateway", "matchLabels": {"a": "b"}}
    policy = agentgateway_policy(targetSelectors=[selector]) if both else agentgateway_policy()
    if both:
        policy["spec"]["targetRefs"] = [GATEWAY_TARGET]
    else:
        del policy["spec"]["targetRefs"]
    error = rejected(policy)
    assert str(error) == AP + (
        "spec: Invalid value: exactly one of the fields in [targetRefs targetSelectors] must be set"
    )


def test_agentgateway_target_selectors_are_validated():
    selector = {"group": "gateway.networking.k8s.io", "kind": "Gateway"}
    error = rejected(agentgateway_policy(targetSelectors=[selector]))
    assert str(error) == AP + f"[spec.targetSelectors[0].matchLabels: Required value, {UNCHECKED}]"
    ok = agentgateway_policy(targetSelectors=[{**selector, "matchLabels": {"app": "a"}}])
    assert admit(ok)["spec"]["targetSelectors"][0]["matchLabels"] == {"app": "a"}


def test_agentgateway_exactly_one_key_source_and_location():
    error = rejected(agentgateway_policy({**SECRET_REF, "secretSelector": {"matchLabels": {"a": "b"}}}))
    assert str(error) == AP + (
        "spec.traffic.apiKeyAuthentication: Invalid value: exactly one of the fields in [secretRef "
        "secretSelector configMapSelector] must be set"
    )
    error = rejected(
        agentgateway_policy({**SECRET_REF, "location": {"header": {"name": "x"}, "cookie": {"name": "c"}}})
    )
    assert str(error) == AP + (
        "spec.traffic.apiKeyAuthentication.location: Invalid value: exactly one of the fields in [header "
        "queryParameter cookie expression] must be set"
    )


def test_agentgateway_mode_is_an_enum():
    error = rejected(agentgateway_policy({**SECRET_REF, "mode": "Lenient"}))
    assert str(error) == AP + (
        '[spec.traffic.apiKeyAuthentication.mode: Unsupported value: "Lenient": supported values: "Optional", '
        f'"Permissive", "Strict", {UNCHECKED}]'
    )


def test_gateway_api_rules():
    route = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "r"},
        "spec": {"rules": [{"backendRefs": [{"name": "svc"}]}]},
    }
    assert str(rejected(route)) == (
        'HTTPRoute.gateway.networking.k8s.io "r" is invalid: spec.rules[0].backendRefs[0]: Invalid value: '
        "Must have port for Service reference"
    )
    listeners = [{"name": "a", "port": 80, "protocol": "HTTP"}, {"name": "a", "port": 81, "protocol": "HTTP"}]
    gateway = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {"name": "g"},
        "spec": {"gatewayClassName": "c", "listeners": listeners},
    }
    assert [str(e) for e in rejected(gateway).errors] == [
        'spec.listeners[1]: Duplicate value: {"name":"a"}',
        "spec.listeners: Invalid value: Listener name must be unique within the Gateway",
    ]
    gateway["spec"]["listeners"] = [{"name": "a", "port": 70000, "protocol": "HTTP"}]
    assert [str(e) for e in rejected(gateway).errors] == [
        "spec.listeners[0].port: Invalid value: 70000: spec.listeners[0].port in body should be less than or equal "
        "to 65535"
    ]
