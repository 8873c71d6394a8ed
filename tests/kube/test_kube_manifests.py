"""Every manifest in clusters/ validated: core kinds against the Kubernetes API schemas (the official client's
models, strictly: a field the schema does not know fails), Gateways through this project's own models."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes.client import ApiClient

from conformance.kube.recipes import KubeAccess, clusters_dir, compatibility_problems, install_steps, load_recipes
from conformance.kube.versions import Version
from reference_impl.resources import Gateway, parse_manifest

CLUSTERS = clusters_dir()
RECIPES = load_recipes(CLUSTERS)
PINS = yaml.safe_load((CLUSTERS / "versions.yaml").read_text())
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
    assert image == RECIPES.httpbin_image == PINS["httpbin"]["image"]


def test_httpbin_runs_as_a_numeric_non_root_user() -> None:
    """The kubelet enforces runAsNonRoot only against a numeric user: an image whose USER is a name (psf/httpbin's
    `USER httpbin`) is refused with "non-numeric user ... cannot verify user is non-root" unless the pod names a
    numeric runAsUser."""
    deployment = next(d for d in yaml.safe_load_all(RECIPES.httpbin_file.read_text()) if d["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    for container in pod["containers"]:
        effective = {**(pod.get("securityContext") or {}), **(container.get("securityContext") or {})}
        if effective.get("runAsNonRoot"):
            user = effective.get("runAsUser")
            assert isinstance(user, int) and user > 0, f"{container['name']}: runAsNonRoot needs a numeric runAsUser"
            assert user == PINS["httpbin"]["runAsUser"]
        assert effective.get("allowPrivilegeEscalation") is False


def test_versions_are_pinned() -> None:
    assert RECIPES.gateway_api_version.startswith("v") and RECIPES.gateway_api_version in RECIPES.gateway_api_manifest
    assert RECIPES.gateway_api_channel == "standard" and "standard-install.yaml" in RECIPES.gateway_api_manifest
    for impl in RECIPES.implementations.values():
        assert impl.charts, impl.name
        for chart in impl.charts:
            assert chart.chart.startswith("oci://"), chart
            assert chart.version == impl.version and chart.version.startswith("v") and chart.version[1:2].isdigit()
    assert set(RECIPES.implementations) == {"kgateway", "agentgateway"}


def test_the_pins_are_the_verified_releases() -> None:
    """The releases docs/certify.md lists, each checked against the sources in versions.yaml."""
    assert RECIPES.gateway_api_version == "v1.5.1"
    assert RECIPES.implementation("kgateway").version == "v2.3.7"
    assert RECIPES.kubernetes_version == Version(1, 35, 0)
    assert {tool: str(v) for tool, v in RECIPES.tool_minimums.items()} == {
        "kind": "v0.31.0",
        "kubectl": "v1.31.0",
        "helm": "v3.12.0",
    }


def test_agentgateway_has_the_hashed_keys_api() -> None:
    # configMapSelector and keyHash first ship in v1.4.0; v1.3.x prunes them (docs/SPEC.md, Versions).
    assert Version.parse(RECIPES.implementation("agentgateway").version, "agentgateway") >= Version(1, 4, 0)


def test_the_kind_node_is_pinned_by_digest_inside_every_supported_range() -> None:
    config = yaml.safe_load(RECIPES.kind_config.read_text())
    [node] = config["nodes"]
    image = node["image"]
    assert image == RECIPES.node_image
    name, _, digest = image.partition("@")
    assert name == f"kindest/node:{RECIPES.kubernetes_version}"
    assert digest.startswith("sha256:") and len(digest) == len("sha256:") + 64
    for impl in RECIPES.implementations.values():
        assert impl.supports["kubernetes"].contains(RECIPES.kubernetes_version), impl.name
        assert impl.supports["gatewayApi"].contains(Version.parse(RECIPES.gateway_api_version, "gatewayApi")), impl.name
        assert RECIPES.tool_minimums["helm"] >= impl.supports["helm"].minimum, impl.name


def test_kubectl_minimum_covers_the_install_commands() -> None:
    # `kubectl wait --for=create` (kubectl 1.31+) is one of the install steps.
    steps = install_steps(RECIPES, ["kgateway"], kubectl="kubectl", helm="helm", access=KubeAccess())
    assert any("--for=create" in step.argv for step in steps)
    assert RECIPES.tool_minimums["kubectl"] >= Version(1, 31)


def test_every_pin_says_where_it_comes_from() -> None:
    """versions.yaml is read by code: a version per component, and a source for each fact."""
    components = {
        "kubernetes": PINS["kubernetes"],
        "gatewayApi": PINS["gatewayApi"],
        "httpbin": PINS["httpbin"],
        **{f"tools.{name}": tool for name, tool in PINS["tools"].items()},
        **{f"implementations.{name}": impl for name, impl in PINS["implementations"].items()},
    }
    for name, component in components.items():
        assert component.get("version") or component.get("minimum") or component.get("image"), name
        sources = component["sources"]
        assert sources and all(set(s) == {"fact", "from"} and s["fact"] and s["from"] for s in sources), name


def test_version_overrides() -> None:
    recipes = load_recipes(CLUSTERS, {"kgateway_version": "v9.9.9", "gateway_api_version": "v1.9.0"})
    assert {c.version for c in recipes.implementation("kgateway").charts} == {"v9.9.9"}
    assert recipes.implementation("kgateway").overridden and not recipes.implementation("agentgateway").overridden
    assert recipes.gateway_api_manifest.endswith("/v1.9.0/standard-install.yaml")
    assert {c.version for c in recipes.implementation("agentgateway").charts} == {
        c.version for c in RECIPES.implementation("agentgateway").charts
    }
    # A Gateway API release outside a pinned implementation's range is reported, not hidden.
    assert compatibility_problems(recipes, ["agentgateway"], None) == [
        "agentgateway v1.4.1 supports Gateway API v1.4 to v1.6, not v1.9.0"
    ]
    assert compatibility_problems(recipes, ["kgateway"], Version(1, 36)) == []  # overridden: its ranges are unknown
    with pytest.raises(ValueError, match=r"kgateway_version: expected a version like v1.2.3, got 'latest'"):
        load_recipes(CLUSTERS, {"kgateway_version": "latest"})


def test_kind_config() -> None:
    config = yaml.safe_load(RECIPES.kind_config.read_text())
    assert (config["apiVersion"], config["kind"]) == ("kind.x-k8s.io/v1alpha4", "Cluster")
    assert [node["role"] for node in config["nodes"]] == ["control-plane"]
    assert set(config) <= {"apiVersion", "kind", "nodes", "networking", "featureGates", "name"}


# -- a versions.yaml that does not hold together is refused, naming the file and the field ---------------------


def edited_copy(tmp_path: Path, path: str, old: str, new: str) -> Path:
    root = tmp_path / "clusters"
    shutil.copytree(CLUSTERS, root)
    target = root / path
    text = target.read_text()
    assert old in text, old
    target.write_text(text.replace(old, new))
    return root


def test_a_node_image_of_another_kubernetes_version_is_refused(tmp_path: Path) -> None:
    root = edited_copy(tmp_path, "versions.yaml", "  version: v1.35.0", "  version: v1.34.0")
    with pytest.raises(ValueError, match=r"kind-config.yaml: nodes\[\*\].image .* kubernetes.version v1.34.0"):
        load_recipes(root)


def test_an_unpinned_node_image_is_refused(tmp_path: Path) -> None:
    root = edited_copy(tmp_path, "kind/kind-config.yaml", "@sha256:", "#sha256:")
    with pytest.raises(ValueError, match=r"pinned by digest"):
        load_recipes(root)


def test_an_httpbin_manifest_with_another_image_is_refused(tmp_path: Path) -> None:
    root = edited_copy(tmp_path, "httpbin.yaml", "go-httpbin:2.25.0", "go-httpbin:2.24.0")
    with pytest.raises(ValueError, match=r"httpbin.yaml: its image must be httpbin.image"):
        load_recipes(root)


def test_a_kubernetes_version_outside_an_implementation_range_is_refused(tmp_path: Path) -> None:
    root = edited_copy(
        tmp_path,
        "versions.yaml",
        "      kubernetes: {min: v1.31, max: v1.35}",
        "      kubernetes: {min: v1.31, max: v1.34}",
    )
    with pytest.raises(
        ValueError, match=r"do not fit together: kgateway v2.3.7 supports Kubernetes v1.31 to v1.34, not v1.35.0"
    ):
        load_recipes(root)


def test_a_missing_field_is_named(tmp_path: Path) -> None:
    root = edited_copy(tmp_path, "versions.yaml", "    minimum: v3.12.0", "    min: v3.12.0")
    with pytest.raises(ValueError, match=r"versions.yaml: tools.helm.minimum is missing"):
        load_recipes(root)
