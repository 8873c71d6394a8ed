"""Every manifest the repository ships (examples, clusters, conformance manifests, feature docstrings, notebooks)
is admitted by the real CRDs of the newest releases, as a cluster would admit it."""

from __future__ import annotations

import pytest
from manifests import Manifest, repository_manifests

from reference_impl.admission import admit

# Installed as they are by the kind/cluster recipes (Deployment, Service, ServiceAccount of httpbin) or read by a
# tool, not an API server (kind's Cluster config): outside the kinds admission covers.
OUT_OF_SCOPE = {
    ("apps/v1", "Deployment"),
    ("v1", "Service"),
    ("v1", "ServiceAccount"),
    ("kind.x-k8s.io/v1alpha4", "Cluster"),
}
MANIFESTS = repository_manifests()
IN_SCOPE = [m for m in MANIFESTS if (m.document["apiVersion"], m.document["kind"]) not in OUT_OF_SCOPE]


def test_the_repository_manifests_are_found_in_every_place():
    sources = {m.source.split("/")[0] for m in IN_SCOPE}
    assert sources == {"examples", "clusters", "conformance", "features", "notebooks"}
    assert len(IN_SCOPE) >= 100
    kinds = {m.document["kind"] for m in IN_SCOPE}
    assert kinds == {
        "Secret",
        "ConfigMap",
        "Gateway",
        "HTTPRoute",
        "ReferenceGrant",
        "TrafficPolicy",
        "AgentgatewayPolicy",
    }


def test_only_known_kinds_are_left_out():
    skipped = {(m.document["apiVersion"], m.document["kind"]) for m in MANIFESTS} - {
        (m.document["apiVersion"], m.document["kind"]) for m in IN_SCOPE
    }
    assert skipped == OUT_OF_SCOPE


@pytest.mark.parametrize("manifest", IN_SCOPE, ids=[m.label for m in IN_SCOPE])
def test_admitted(manifest: Manifest):
    admitted = admit(manifest.document)
    assert admitted["kind"] == manifest.document["kind"]
    assert admitted["metadata"]["name"] == manifest.document["metadata"]["name"]
