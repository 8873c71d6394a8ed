"""The translation comparison of agentgateway policies: the reference gateway's compiled policies and the real
controller's xDS (its `traffic.apiKeyAuth` policy resources, as protojson), projected to one form."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from conformance.differential import agentgateway
from conformance.differential.pair import TargetPair
from conformance.differential.runner import DifferentialSettings, run_differential
from conformance.differential.translation import from_reference, from_xds, translation_differences
from conformance.differential.world import route, store, target_ref
from conformance.profiles import PROFILES
from reference_impl.compile.snapshot import BackendMap
from reference_impl.resources import parse_manifest
from reference_impl.store import Store

NS, GW = agentgateway.NAMESPACE, agentgateway.GATEWAY
RAW, OTHER = "k-raw-31d9", "k-other-77ab"  # test keys
POLICY = f"AgentgatewayPolicy {NS}/auth-route at HTTPRoute {NS}/httpbin"


def _inventory(entries: dict[str, str], **auth: Any) -> Any:
    policy = {
        "apiVersion": "agentgateway.dev/v1alpha1",
        "kind": "AgentgatewayPolicy",
        "metadata": {"name": "auth-route", "namespace": NS},
        "spec": {
            "targetRefs": [target_ref("route", GW)],
            "traffic": {"apiKeyAuthentication": {"secretRef": {"name": "keys-1"}, **auth}},
        },
    }
    manifests = [*PROFILES["agentgateway"].base_manifests(agentgateway.HOST)]
    manifests += [store("Secret", NS, 0, entries), route(NS, GW), policy]
    held = Store(BackendMap({"httpbin": "http://127.0.0.1:9"}))
    held.apply([parse_manifest(m) for m in manifests])
    return held.inventory()


def _xds(api_keys: list[dict[str, Any]], **auth: Any) -> dict[str, Any]:
    policy = {
        "key": f"policy/traffic/{NS}/auth-route:apikeyauth:{NS}/httpbin",
        "name": {"kind": "AgentgatewayPolicy", "namespace": NS, "name": "auth-route"},
        "target": {"route": {"kind": "HTTPRoute", "namespace": NS, "name": "httpbin"}},
        "traffic": {"apiKeyAuth": {"apiKeys": api_keys, **auth}},
    }
    other = {"key": "route/x", "route": {"name": "httpbin"}}
    return {"resources": {policy["key"]: {"policy": policy}, "route/x": other}, "addresses": {}}


def test_the_same_policy_projects_the_same_from_both_sides() -> None:
    entries = {"alice": RAW, "bob": json.dumps({"key": OTHER, "metadata": {"tier": 2}}), "zoe": "{not json"}
    reference = from_reference(_inventory(entries))
    xds = from_xds(_xds([{"key": OTHER, "metadata": {"tier": 2.0}}, {"key": RAW, "metadata": {}}]))
    assert list(reference) == list(xds) == [POLICY]
    assert (reference[POLICY].mode, reference[POLICY].location) == ("Strict", "header 'authorization' prefix 'Bearer '")
    assert len(reference[POLICY].keys) == 2
    assert translation_differences(reference, xds) == []


def test_mode_location_keys_and_metadata_differences_are_each_named_without_a_key() -> None:
    reference = from_reference(
        _inventory({"alice": RAW, "bob": json.dumps({"key": OTHER, "metadata": {"team": "a"}})}, mode="Optional")
    )
    xds = from_xds(
        _xds(
            [{"key": OTHER, "metadata": {"team": "b"}}],
            mode="PERMISSIVE",
            authorizationLocation={"queryParameter": {"name": "key"}},
        )
    )
    found = {d.aspect: d for d in translation_differences(reference, xds)}
    assert set(found) == {"translation mode", "translation location", "translation keys", "translation metadata"}
    assert (found["translation mode"].a, found["translation mode"].b) == ("Optional", "Permissive")
    assert found["translation location"].b == "query 'key'"
    raw_digest = hashlib.sha256(RAW.encode()).hexdigest()
    assert found["translation keys"].a == f"sha256:{raw_digest[:16]} {{}}" and found["translation keys"].b == "none"
    assert '"team":"a"' in found["translation metadata"].a and '"team":"b"' in found["translation metadata"].b
    text = repr(list(found.values()))
    assert RAW not in text and OTHER not in text and raw_digest not in text


def test_a_raw_key_wins_over_a_hash_of_it_and_same_key_entries_may_carry_either_metadata() -> None:
    digest = hashlib.sha256(RAW.encode()).hexdigest()
    xds = from_xds(
        _xds(
            [
                {"keyHash": f"sha256:{digest.upper()}", "metadata": {"from": "hash"}},
                {"key": RAW, "metadata": {"from": "raw"}},
                {"key": OTHER, "metadata": {"n": 1}},
                {"key": OTHER, "metadata": {"n": 2}},
            ]
        )
    )
    keys = xds[POLICY].keys
    assert keys[f"sha256:{digest[:16]}"] == {'{"from":"raw"}'}
    assert keys[f"sha256:{hashlib.sha256(OTHER.encode()).hexdigest()[:16]}"] == {'{"n":1}', '{"n":2}'}


def test_a_policy_at_a_target_only_one_side_has_is_a_difference() -> None:
    reference = from_reference(_inventory({"alice": RAW}))
    (difference,) = translation_differences(reference, from_xds({"resources": {}, "addresses": {}}))
    assert (difference.aspect, difference.a, difference.b, difference.name) == (
        "translation",
        "present",
        "absent",
        POLICY,
    )


def test_unset_mode_and_location_are_the_protos_and_the_proxys_defaults() -> None:
    (translation,) = from_xds(_xds([])).values()
    assert (translation.mode, translation.location) == ("Strict", "header 'authorization' prefix 'Bearer '")
    gateway_level = _xds([])
    (resource,) = [r for r in gateway_level["resources"].values() if "policy" in r]
    resource["policy"]["target"] = {"gateway": {"name": GW, "namespace": NS, "listener": "http"}}
    assert list(from_xds(gateway_level)) == [f"AgentgatewayPolicy {NS}/auth-route at Gateway {NS}/{GW}/http"]


def _against_a_status_only_reference(examples: int, seed: int) -> tuple[DifferentialSettings, TargetPair]:
    """The reference gateway against one that sends no request (status_only): like agentgateway's controller."""
    settings = DifferentialSettings(
        targets=("reference", "reference"),
        profile="agentgateway",
        examples=examples,
        seed=seed,
        target_options=({}, {"status_only": True}),
    )
    return settings, TargetPair(settings.targets, settings.target_options, settings.profile)


def test_a_status_only_target_sends_no_request_and_the_run_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conformance.differential import wire
    from conformance.differential.report import summary_lines, write_report

    sent: list[object] = []
    monkeypatch.setattr(wire, "send", lambda *args: sent.append(args))

    settings, pair = _against_a_status_only_reference(examples=8, seed=3)
    pair.start()
    try:
        result = run_differential(settings, pair=pair)
        translations = pair.translations()
    finally:
        pair.close()
    assert not sent and result.not_sent == "the reference target's status_only option is set"
    assert result.policies == 8 and not result.divergences
    assert translations is not None and translations[0] == translations[1]
    document = yaml.safe_load(write_report(result, tmp_path / "r.yaml").read_text())
    assert document["compared"]["requestsSent"] is False and document["result"] == "success"
    assert f"compared 8 policies and no request ({result.requests} not sent)" in summary_lines(result)[0]


def test_a_translation_difference_is_a_divergence_even_when_no_request_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    settings, pair = _against_a_status_only_reference(examples=5, seed=4)
    honest = pair.translations

    def one_side_permissive() -> Any:
        a, b = honest()
        return {label: replace(t, mode="Permissive") for label, t in a.items()}, b

    monkeypatch.setattr(pair, "translations", one_side_permissive)
    pair.start()
    try:
        result = run_differential(settings, pair=pair)
    finally:
        pair.close()
    assert result.unknown and all("translation mode" in d.signature[0] for d in result.unknown)
