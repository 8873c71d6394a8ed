"""Every manifest in clusters/ validated: core kinds against the Kubernetes API schemas (the official client's
models, strictly: a field the schema does not know fails), Gateways through this project's own models."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from kubernetes.client import ApiClient

from conformance.kube.recipes import clusters_dir, load_recipes
from reference_impl.resources import Gateway, parse_manifest

CLUSTERS = clusters_dir()
RECIPES = load_recipes(CLUSTERS)
#: Core kinds and the client model each must deserialize into.
CORE_MODELS = {
    ("v1", "Namespace"): "V1Namespace",
    ("v1", "ServiceAccount"): "V1ServiceAccount",
    ("v1", "Service"): "V1Service",
    ("v1", "ConfigMap"): "V1ConfigMap",
    ("apps/v1", "Deployment"): "V1Deployment",
}


def validate_core(document: dict[str, Any]) -> None:
    """Deserialize into the client model (required fields and types checked) and serialize back: anything
    the schema does not know is dropped on the way, so the round trip must give back the input."""
    model = CORE_MODELS[(document["apiVersion"], document["kind"])]
    client = ApiClient()
    round_trip = client.sanitize_for_serialization(client.deserialize(json.dumps(document), model, "application/json"))
    assert round_trip == document, f"{document['kind']} {document['metadata']['name']}: fields not in the schema"


def rendered() -> list[tuple[str, dict[str, Any]]]:
    """Every document the targets apply, as applied: httpbin once per Gateway namespace."""
    documents: list[tuple[str, dict[str, Any]]] = []
    for impl in RECIPES.implementations.values():
        for document in yaml.safe_load_all(RECIPES.httpbin_file.read_text()):
            placed = {**document, "metadata": {**document["metadata"], "namespace": impl.namespace}}
            documents.append((f"httpbin.yaml in {impl.namespace}", placed))
        for document in yaml.safe_load_all(impl.gateway_file.read_text()):
            documents.append((impl.gateway_file.name, document))
    return documents


@pytest.mark.parametrize(("source", "document"), rendered(), ids=lambda v: v if isinstance(v, str) else "")
def test_rendered_manifest_is_valid(source: str, document: dict[str, Any]) -> None:
    if (document["apiVersion"], document["kind"]) in CORE_MODELS:
        validate_core(document)
    else:
        parse_manifest(document, source=source)


def test_strict_validation_catches_a_misspelt_field() -> None:
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}, "spec": {"prots": []}}
    with pytest.raises(AssertionError, match="fields not in the schema"):
        validate_core(service)


def test_strict_validation_catches_a_missing_required_field() -> None:
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"}, "spec": {}}
    with pytest.raises(ValueError, match="selector"):
        validate_core(deployment)


def test_every_manifest_file_is_covered() -> None:
    applied = {RECIPES.httpbin_file, *(impl.gateway_file for impl in RECIPES.implementations.values())}
    manifests = {p for p in CLUSTERS.rglob("*.yaml") if p.name != "versions.yaml" and p != RECIPES.kind_config}
    assert manifests == applied


@pytest.mark.parametrize(
    ("implementation", "name", "namespace", "class_name", "port"),
    [
        ("kgateway", "http", "kgateway-system", "kgateway", 8080),
        ("agentgateway", "agentgateway-proxy", "agentgateway-system", "agentgateway", 80),
    ],
)
def test_profile_gateways(implementation: str, name: str, namespace: str, class_name: str, port: int) -> None:
    impl = RECIPES.implementation(implementation)
    gateway = parse_manifest(yaml.safe_load(impl.gateway_file.read_text()))
    assert isinstance(gateway, Gateway)
    assert (
        (gateway.metadata.name, gateway.metadata.namespace) == (name, namespace) == (impl.gateway.name, impl.namespace)
    )
    assert gateway.spec.gateway_class_name == class_name
    [listener] = gateway.spec.listeners
    assert (listener.name, listener.port, listener.protocol) == ("http", port, "HTTP")
    assert listener.allowed_routes.namespaces.from_ == "All"
    assert impl.gateway.listener_ports == (port,)


def test_httpbin_serves_port_8000_from_a_pinned_image() -> None:
    documents = {d["kind"]: d for d in yaml.safe_load_all(RECIPES.httpbin_file.read_text())}
    assert all("namespace" not in d["metadata"] for d in documents.values())  # applied with --namespace
    service, deployment = documents["Service"], documents["Deployment"]
    assert service["metadata"]["name"] == "httpbin"
    [port] = service["spec"]["ports"]
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    [container_port] = container["ports"]
    assert port["port"] == 8000 and port["targetPort"] == container_port["name"]
    assert service["spec"]["selector"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    image = container["image"]
    repository, _, tag = image.rpartition(":")
    assert repository and "/" in repository and tag not in ("", "latest"), image


def test_versions_are_pinned() -> None:
    assert RECIPES.gateway_api_version.startswith("v") and RECIPES.gateway_api_version in RECIPES.gateway_api_manifest
    for impl in RECIPES.implementations.values():
        assert impl.charts, impl.name
        for chart in impl.charts:
            assert chart.chart.startswith("oci://"), chart
            assert chart.version.startswith("v") and chart.version[1:2].isdigit(), chart
    assert set(RECIPES.implementations) == {"kgateway", "agentgateway"}


def test_version_overrides() -> None:
    recipes = load_recipes(CLUSTERS, {"kgateway_version": "v9.9.9", "gateway_api_version": "v1.9.0"})
    assert {c.version for c in recipes.implementation("kgateway").charts} == {"v9.9.9"}
    assert recipes.gateway_api_manifest.endswith("/v1.9.0/standard-install.yaml")
    assert {c.version for c in recipes.implementation("agentgateway").charts} == {
        c.version for c in RECIPES.implementation("agentgateway").charts
    }


def test_kind_config() -> None:
    config = yaml.safe_load(RECIPES.kind_config.read_text())
    assert (config["apiVersion"], config["kind"]) == ("kind.x-k8s.io/v1alpha4", "Cluster")
    assert [node["role"] for node in config["nodes"]] == ["control-plane"]
    assert set(config) <= {"apiVersion", "kind", "nodes", "networking", "featureGates", "name"}
