"""What admission does besides the rules: strict unknown fields, defaults, nulls, status, metadata, releases."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from builders import agentgateway_policy, traffic_policy

from reference_impl.admission import PINNED, RELEASES, AdmissionError, admit, parse_release, resolve
from reference_impl.admission.catalog import CRDS

ROOT = Path(__file__).resolve().parents[2]
SECRET_REF = {"secretRef": {"name": "keys"}}
MATCH_EXPRESSIONS = {"secretSelector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["a"]}]}}


def test_unknown_fields_are_rejected_like_strict_field_validation():
    policy = traffic_policy({**SECRET_REF, "header": "x-api-key"}, extra=1)
    policy["metadata"]["labels2"] = {}
    with pytest.raises(AdmissionError) as caught:
        admit(policy)
    assert [str(e) for e in caught.value.errors] == [
        'metadata.labels2: unknown field "metadata.labels2"',
        'spec.apiKeyAuth.header: unknown field "spec.apiKeyAuth.header"',
        'spec.extra: unknown field "spec.extra"',
    ]


def test_empty_marker_objects_take_no_fields():
    with pytest.raises(AdmissionError) as caught:
        admit(traffic_policy({"disable": {"now": True}}))
    assert str(caught.value) == (
        'TrafficPolicy in version "v1alpha1" cannot be handled as a TrafficPolicy: strict decoding error: '
        'unknown field "spec.apiKeyAuth.disable.now"'
    )
    assert [(e.path, e.rule) for e in caught.value.errors] == [
        ("spec.apiKeyAuth.disable.now", 'unknown field "spec.apiKeyAuth.disable.now"')
    ]


def test_defaults_are_applied_as_the_api_server_applies_them():
    admitted = admit(traffic_policy(SECRET_REF))
    assert admitted["spec"]["apiKeyAuth"]["secretRef"] == {"name": "keys", "group": "", "kind": "Secret"}
    assert admitted["metadata"]["namespace"] == "default"
    route = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "r", "namespace": "team"},
        "spec": {"parentRefs": [{"name": "gw"}], "rules": [{"backendRefs": [{"name": "svc", "port": 80}]}]},
    }
    spec = admit(route)["spec"]
    assert spec["parentRefs"] == [{"name": "gw", "group": "gateway.networking.k8s.io", "kind": "Gateway"}]
    assert spec["rules"][0]["matches"] == [{"path": {"type": "PathPrefix", "value": "/"}}]
    assert spec["rules"][0]["backendRefs"] == [{"name": "svc", "port": 80, "group": "", "kind": "Service", "weight": 1}]
    assert admit(agentgateway_policy())["spec"]["traffic"]["apiKeyAuthentication"]["mode"] == "Strict"


def test_the_input_is_not_modified():
    policy = traffic_policy(SECRET_REF)
    before = repr(policy)
    admit(policy)
    assert repr(policy) == before


def test_nulls_of_non_nullable_fields_are_dropped_and_status_is_ignored():
    policy = traffic_policy({**SECRET_REF, "forwardCredential": None}) | {"status": {"ancestors": "not a list"}}
    admitted = admit(policy)
    assert "forwardCredential" not in admitted["spec"]["apiKeyAuth"]
    assert "status" not in admitted


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ({}, "metadata.name: Required value: name or generateName is required"),
        ({"name": "Bad_Name"}, 'metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist'),
        # No namespace of that name can exist, and the API server looks the namespace up first.
        ({"name": "p", "namespace": "a.b"}, 'namespaces "a.b" not found'),
        ({"name": "p", "labels": {"app": "a b"}}, 'metadata.labels: Invalid value: "a b": a valid label must be'),
    ],
)
def test_metadata_rules(metadata, message):
    policy = traffic_policy(SECRET_REF)
    policy["metadata"] = metadata
    with pytest.raises(AdmissionError) as caught:
        admit(policy)
    assert message in str(caught.value)


def test_generate_name_gets_a_name():
    policy = traffic_policy(SECRET_REF)
    policy["metadata"] = {"generateName": "p-"}
    name = admit(policy)["metadata"]["name"]
    assert name.startswith("p-") and len(name) == 7


def test_unknown_kinds_and_versions():
    for api_version, kind in [("gateway.networking.k8s.io/v2", "HTTPRoute"), ("example.com/v1", "Widget")]:
        with pytest.raises(AdmissionError) as caught:
            admit({"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"}})
        assert f'kind: no matches for kind "{kind}" in version "{api_version}"' in str(caught.value)
    with pytest.raises(AdmissionError, match="kind: Required value"):
        admit({"apiVersion": "v1", "metadata": {"name": "x"}})


def test_the_newest_release_by_default_and_older_ones_on_request():
    assert (
        admit(traffic_policy(MATCH_EXPRESSIONS))["spec"]["apiKeyAuth"]["secretSelector"]
        == (MATCH_EXPRESSIONS["secretSelector"])
    )
    with pytest.raises(AdmissionError) as caught:
        admit(traffic_policy(MATCH_EXPRESSIONS), release={"kgateway": "v2.3.x"})
    path = "spec.apiKeyAuth.secretSelector.matchExpressions"
    assert str(caught.value) == (
        f'TrafficPolicy in version "v1alpha1" cannot be handled as a TrafficPolicy: strict decoding error: '
        f'unknown field "{path}"'
    )
    hashed = agentgateway_policy({"configMapSelector": {"matchLabels": {"app": "a"}}})
    assert admit(hashed, release={"agentgateway": "v1.4.1"})["spec"]["traffic"]["apiKeyAuthentication"]
    with pytest.raises(AdmissionError, match=r"unknown field \"spec.traffic.apiKeyAuthentication.configMapSelector\""):
        admit(hashed, release=parse_release("agentgateway=v1.3.1"))


def test_empty_selector_needs_a_field_on_the_newest_kgateway():
    with pytest.raises(AdmissionError, match="should have at least 1 properties"):
        admit(traffic_policy({"secretSelector": {}}))


def test_release_names():
    assert resolve(None) == {"gateway-api": "v1.5.1", "kgateway": "main", "agentgateway": "v1.4.1"}
    assert parse_release("kgateway=v2.3.x, agentgateway=newest")["kgateway"] == "v2.3.x"
    for bad, message in [("kgateway=v9", "unknown kgateway release 'v9'"), ("envoy=v1", "unknown project 'envoy'")]:
        with pytest.raises(ValueError, match=message):
            parse_release(bad)
    with pytest.raises(ValueError, match="expected PROJECT=RELEASE"):
        parse_release("kgateway")
    assert parse_release("pinned") == PINNED
    assert parse_release("kgateway=main", base=PINNED) == {**PINNED, "kgateway": "main"}
    assert parse_release("newest", base=PINNED) == resolve(None)


def test_the_pinned_releases_are_what_clusters_versions_installs():
    """What `apikey-gateway validate` and `serve` admit by default: the CRDs of the releases a user installs."""
    pins = yaml.safe_load((ROOT / "clusters" / "versions.yaml").read_text())
    installed = {
        "gateway-api": pins["gatewayApi"]["version"],
        "kgateway": pins["implementations"]["kgateway"]["version"],
        "agentgateway": pins["implementations"]["agentgateway"]["version"],
    }
    for project, vendored in PINNED.items():
        # a vendored folder names a release (v1.4.1) or a patch series (v2.3.x) of the installed one
        series = vendored.removesuffix("x")
        assert installed[project] == vendored or (vendored.endswith(".x") and installed[project].startswith(series)), (
            project,
            vendored,
            installed[project],
        )


def test_every_vendored_release_is_selectable():
    on_disk = {(p.parent.name, p.name) for p in CRDS.glob("*/*") if p.is_dir()}
    assert on_disk == {(project, release) for project, releases in RELEASES.items() for release in releases}


def test_a_remembered_outcome_is_the_same_and_independent():
    first = admit(traffic_policy(SECRET_REF))
    first["spec"]["apiKeyAuth"]["secretRef"]["name"] = "changed"
    assert admit(traffic_policy(SECRET_REF))["spec"]["apiKeyAuth"]["secretRef"]["name"] == "keys"
    errors = []
    for _ in range(2):
        with pytest.raises(AdmissionError) as caught:
            admit(traffic_policy({}))
        errors.append(caught.value)
    assert errors[0] is not errors[1] and str(errors[0]) == str(errors[1])
    assert (
        admit(traffic_policy(SECRET_REF), release={"kgateway": "v2.3.x"})["spec"]
        == admit(traffic_policy(SECRET_REF))["spec"]
    )


def test_remembered_rule_outcomes_follow_what_each_rule_reads():
    # A rule's outcome is remembered for the members of `self` it reads: a manifest differing only in members a
    # rule does not read reuses its outcome; the results always equal a fresh evaluation.
    from reference_impl.admission import cel
    from reference_impl.admission.catalog import find, resolve

    schema = find("gateway.kgateway.dev", "v1alpha1", "TrafficPolicy", resolve(None)).schema["properties"]["spec"]
    both = {"secretRef": {"name": "keys"}, "disable": {}}
    for auth in ({**SECRET_REF, "clientIdHeader": "x-a"}, {**SECRET_REF, "clientIdHeader": "x-b"}, both, SECRET_REF):
        spec = traffic_policy(auth)["spec"]
        remembered = cel.validate(spec, schema, "spec")
        cel._OUTCOMES.clear()
        fresh = cel.validate(spec, schema, "spec")
        assert remembered == fresh
        assert bool(fresh) == (auth is both)
    assert cel._members_read("has(self.a) && self.b.all(x, x > 0)") == ("a", "b")
    assert cel._members_read("self.all(x, x.name != '')") is None
    assert cel._members_read("size(self) > 0") is None
    assert cel._members_read("self.exists(k, k == 'a') || has(self.b)") is None
    assert cel._members_read("has(self.__namespace__)") is None
