"""The exact command sequence the kind target runs, with a recording runner and a fake KindCluster."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from conformance.kube import FIELD_MANAGER
from conformance.kube.conditions import ObjectRef
from conformance.kube.recipes import KubeAccess, clusters_dir
from conformance.targets.kind import KindTarget

CLUSTERS = clusters_dir()
TOOLS = {"kind": "/bin/kind", "kubectl": "/bin/kubectl", "helm": "/bin/helm", "docker": "/bin/docker"}


class Log:
    def __init__(self, clusters: str = "") -> None:
        self.calls: list[Any] = []
        self.clusters = clusters

    def run(self, argv: Sequence[str]) -> str:
        self.calls.append(list(argv))
        return self.clusters if list(argv[1:]) == ["get", "clusters"] else ""


class FakeKindCluster:
    def __init__(self, log: Log, **kwargs: Any) -> None:
        self.log = log
        log.calls.append(("KindCluster", kwargs))

    def create(self, config_file: Path) -> None:
        self.log.calls.append(("create", config_file))

    def delete(self) -> None:
        self.log.calls.append(("delete",))


class FakeApi:
    """Just enough cluster for start(): the profile Gateway and httpbin exist."""

    def __init__(self, access: KubeAccess, cache_file: str) -> None:
        self.access = access

    def get(self, ref: ObjectRef) -> dict[str, Any] | None:
        return {"metadata": {"name": ref.name}}

    def close(self) -> None:
        pass


def make(tmp_path: Path, log: Log, **options: str) -> KindTarget:
    return KindTarget(
        {"profiles": ["kgateway"], "work_dir": str(tmp_path), **options},
        runner=log.run,
        api_factory=FakeApi,  # type: ignore[arg-type]
        cluster_factory=lambda **kwargs: FakeKindCluster(log, **kwargs),
        which=TOOLS.get,
    )


def install_sequence(kubeconfig: str) -> list[Any]:
    k = ["/bin/kubectl", "--kubeconfig", kubeconfig, "--context", "kind-apikey-conformance"]
    h = ["/bin/helm", "--kubeconfig", kubeconfig, "--kube-context", "kind-apikey-conformance"]
    apply = ["apply", "--server-side", "--force-conflicts", f"--field-manager={FIELD_MANAGER}"]
    helm = ["--namespace", "kgateway-system", "--create-namespace", "--wait", "--timeout", "300s"]
    return [
        [
            *k,
            *apply,
            "--filename",
            "https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.5.0/standard-install.yaml",
        ],
        [
            *k,
            "wait",
            "--for=condition=Established",
            "--timeout=300s",
            "crd/gateways.gateway.networking.k8s.io",
            "crd/httproutes.gateway.networking.k8s.io",
            "crd/referencegrants.gateway.networking.k8s.io",
        ],
        [
            *h,
            "upgrade",
            "--install",
            "kgateway-crds",
            "oci://cr.kgateway.dev/kgateway-dev/charts/kgateway-crds",
            "--version",
            "v2.3.3",
            *helm,
        ],
        [
            *h,
            "upgrade",
            "--install",
            "kgateway",
            "oci://cr.kgateway.dev/kgateway-dev/charts/kgateway",
            "--version",
            "v2.3.3",
            *helm,
        ],
        [*k, *apply, "--namespace", "kgateway-system", "--filename", str(CLUSTERS / "httpbin.yaml")],
        [*k, *apply, "--filename", str(CLUSTERS / "gateways" / "kgateway.yaml")],
        [*k, "rollout", "status", "--namespace", "kgateway-system", "deployment/httpbin", "--timeout=300s"],
        [*k, "wait", "--namespace", "kgateway-system", "--for=condition=Accepted", "gateway/http", "--timeout=300s"],
        [*k, "wait", "--namespace", "kgateway-system", "--for=create", "deployment/http", "--timeout=300s"],
        [*k, "rollout", "status", "--namespace", "kgateway-system", "deployment/http", "--timeout=300s"],
    ]


def test_new_cluster_then_full_install_then_delete(tmp_path: Path) -> None:
    log = Log(clusters="other\n")
    target = make(tmp_path, log)
    kubeconfig = str(tmp_path / "kind-apikey-conformance.kubeconfig")
    target.start()
    assert log.calls == [
        (
            "KindCluster",
            {
                "name": "apikey-conformance",
                "kubeconfig": Path(kubeconfig),
                "image": None,
                "kind_path": Path("/bin/kind"),
                "kubectl_path": Path("/bin/kubectl"),
            },
        ),
        ["/bin/kind", "get", "clusters"],
        ("create", CLUSTERS / "kind" / "kind-config.yaml"),
        *install_sequence(kubeconfig),
    ]
    assert target.access == KubeAccess(kubeconfig, "kind-apikey-conformance")
    log.calls.clear()
    target.close()
    assert log.calls == [("delete",)]  # created by this run, keep not set


def test_existing_cluster_is_reused_and_kept(tmp_path: Path) -> None:
    log = Log(clusters="apikey-conformance\n")
    target = make(
        tmp_path, log, kubeconfig=str(tmp_path / "k"), implementation="agentgateway", node_image="kindest/node:v1.34.0"
    )
    target.start()
    assert log.calls[0][1]["image"] == "kindest/node:v1.34.0"
    assert log.calls[1:4] == [
        ["/bin/kind", "get", "clusters"],
        ["/bin/kind", "export", "kubeconfig", "--name", "apikey-conformance", "--kubeconfig", str(tmp_path / "k")],
        ("create", CLUSTERS / "kind" / "kind-config.yaml"),  # KindCluster.create reuses an existing cluster
    ]
    helm = [call for call in log.calls if call[0] == "/bin/helm"]
    assert [call[7:9] for call in helm] == [
        ["agentgateway-crds", "oci://cr.agentgateway.dev/charts/agentgateway-crds"],
        ["agentgateway", "oci://cr.agentgateway.dev/charts/agentgateway"],
    ]
    log.calls.clear()
    target.close()
    assert log.calls == []  # never delete a cluster this run did not create


def test_reuse_false_recreates_and_keep_true_leaves_it(tmp_path: Path) -> None:
    log = Log(clusters="apikey-conformance\n")
    target = make(tmp_path, log, reuse="false", keep="true", install="false", cluster_name="apikey-conformance")
    target.start()
    assert log.calls[1:] == [
        ["/bin/kind", "get", "clusters"],
        ("delete",),
        ("create", CLUSTERS / "kind" / "kind-config.yaml"),
    ]
    log.calls.clear()
    target.close()
    assert log.calls == []


def test_both_implementations_install_into_one_cluster(tmp_path: Path) -> None:
    log = Log()
    target = make(tmp_path, log, implementation="kgateway,agentgateway")
    target.start()
    gateways = [
        call[-1] for call in log.calls if isinstance(call, list) and "--filename" in call and "gateways" in call[-1]
    ]
    assert [Path(g).name for g in gateways] == ["kgateway.yaml", "agentgateway.yaml"]


def test_bad_option_values_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"reuse='maybe': expected true or false"):
        make(tmp_path, Log(), reuse="maybe")
    with pytest.raises(ValueError, match=r"implementation='envoy': expected one of kgateway, agentgateway"):
        make(tmp_path, Log(), implementation="envoy")


def test_a_failed_install_deletes_the_cluster_it_created(tmp_path: Path) -> None:
    log = Log()

    def failing(argv: Sequence[str]) -> str:
        if argv[0] == "/bin/helm":
            raise RuntimeError("`helm upgrade --install kgateway-crds ...` failed with exit code 1: not found")
        return log.run(argv)

    target = KindTarget(
        {"profiles": ["kgateway"], "work_dir": str(tmp_path)},
        runner=failing,
        api_factory=FakeApi,  # type: ignore[arg-type]
        cluster_factory=lambda **kwargs: FakeKindCluster(log, **kwargs),
        which=TOOLS.get,
    )
    with pytest.raises(RuntimeError, match="helm upgrade"):
        target.start()
    assert log.calls[-1] == ("delete",)
