"""The exact command sequence the kind target runs, with a recording runner and a fake KindCluster; the dry-run
plan that prints it; and the tool version checks that come first."""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import pytest_kind.cluster

from conformance.kube import FIELD_MANAGER
from conformance.kube.conditions import ObjectRef
from conformance.kube.recipes import KubeAccess, clusters_dir, kind_create_cluster, kind_delete_cluster
from conformance.targets.base import TargetUnavailable
from conformance.targets.kind import KindTarget

CLUSTERS = clusters_dir()
TOOLS = {"kind": "/bin/kind", "kubectl": "/bin/kubectl", "helm": "/bin/helm", "docker": "/bin/docker"}
#: What each tool's version command prints (their real formats).
VERSION_OUTPUT = {
    "/bin/kind": "kind v0.31.0 go1.25.5 linux/amd64\n",
    "/bin/kubectl": json.dumps({"clientVersion": {"major": "1", "minor": "35", "gitVersion": "v1.35.1"}}),
    "/bin/helm": "v3.17.1+g980d8ac\n",
}


class Log:
    def __init__(self, clusters: str = "") -> None:
        self.calls: list[Any] = []
        self.clusters = clusters

    def run(self, argv: Sequence[str]) -> str:
        self.calls.append(list(argv))
        if argv[1:2] == ["version"]:
            return VERSION_OUTPUT[argv[0]]
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
            "https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.5.1/standard-install.yaml",
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
            "v2.3.7",
            *helm,
        ],
        [
            *h,
            "upgrade",
            "--install",
            "kgateway",
            "oci://cr.kgateway.dev/kgateway-dev/charts/kgateway",
            "--version",
            "v2.3.7",
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


# -- the dry run: the plan is exactly what a real run does -------------------------------------------------------


def planned_commands(plan: str) -> list[str]:
    """The numbered command lines of a rendered plan, without their numbers."""
    return [line.split(". ", 1)[1] for line in plan.splitlines() if line[:4].strip().rstrip(".").isdigit()]


def test_dry_run_prints_the_plan_and_runs_nothing(tmp_path: Path) -> None:
    log = Log()
    target = make(tmp_path, log, dry_run="true")
    with pytest.raises(TargetUnavailable) as raised:
        target.start()
    plan_file = tmp_path / "install-plan.txt"
    assert str(raised.value) == (
        f"dry run of target 'kind': printed the install plan (also in {plan_file}); "
        f"nothing was created or installed, so no scenario ran"
    )
    # Only the tools' version commands ran: no cluster, no kubectl apply, no helm install.
    assert log.calls == [
        ["/bin/kind", "version"],
        ["/bin/kubectl", "version", "--client", "--output=json"],
        ["/bin/helm", "version", "--short"],
    ]
    plan = plan_file.read_text()
    kubeconfig = str(tmp_path / "kind-apikey-conformance.kubeconfig")
    kind = ["/bin/kind"]
    assert planned_commands(plan) == [
        shlex.join(argv)
        for argv in [
            [*kind, "get", "clusters"],
            [*kind, "export", "kubeconfig", "--name", "apikey-conformance", "--kubeconfig", kubeconfig],
            kind_create_cluster(
                "/bin/kind", "apikey-conformance", kubeconfig, None, CLUSTERS / "kind" / "kind-config.yaml"
            ),
            *install_sequence(kubeconfig),  # the same sequence the real run executes (test above)
            kind_delete_cluster("/bin/kind", "apikey-conformance", kubeconfig),
        ]
    ]
    lines = plan.splitlines()
    assert lines[:10] == [
        "Install plan of target 'kind' for kgateway (dry run: nothing is run)",
        f"Versions (from {CLUSTERS / 'versions.yaml'}):",
        "  Kubernetes v1.35.0 (kind node image "
        "kindest/node:v1.35.0@sha256:452d707d4862f52530247495d180205e029056831160e22870e37e3f6c1ac31f)",
        "  Gateway API v1.5.1 (standard channel): "
        "https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.5.1/standard-install.yaml",
        "  kgateway v2.3.7: oci://cr.kgateway.dev/kgateway-dev/charts/kgateway-crds v2.3.7, "
        "oci://cr.kgateway.dev/kgateway-dev/charts/kgateway v2.3.7 "
        "(pinned release supports Kubernetes v1.31 to v1.35, Gateway API v1.3 to v1.5)",
        "  httpbin image ghcr.io/mccutchen/go-httpbin:2.25.0",
        "Tools on this machine:",
        "  kind v0.31.0 at /bin/kind (ok, >= v0.31.0)",
        "  kubectl v1.35.1 at /bin/kubectl (ok, >= v1.31.0)",
        "  helm v3.17.1 at /bin/helm (ok, >= v3.12.0)",
    ]
    # Every local manifest appears in full right after the command that uses it.
    for manifest in ("kind/kind-config.yaml", "httpbin.yaml", "gateways/kgateway.yaml"):
        path = CLUSTERS / manifest
        block = "\n".join(f"      {line}".rstrip() for line in path.read_text().splitlines())
        start = plan.index(f"      --- {path}\n{block}\n      ---\n")
        command = planned_commands(plan[:start])[-1]
        assert command.endswith(str(path)), (manifest, command)


def test_dry_run_notes_what_a_real_run_here_would_lack(tmp_path: Path) -> None:
    log = Log()
    target = KindTarget(
        {"profiles": ["kgateway"], "work_dir": str(tmp_path), "dry_run": "true", "node_image": "kindest/node:v1.36.1"},
        runner=log.run,
        api_factory=FakeApi,  # type: ignore[arg-type]
        cluster_factory=lambda **kwargs: pytest.fail("a dry run must not make a cluster"),
        which={"kubectl": "/bin/kubectl"}.get,  # no docker, kind or helm
    )
    plan = target.plan()
    assert list(plan.notes) == [
        "a real run here would stop: Docker is not installed (no `docker` on PATH), and kind runs its nodes as "
        "Docker containers",
        "a real run here would stop: kind, helm not found on PATH (this project never downloads them)",
        "node_image=kindest/node:v1.36.1 replaces the pinned "
        "kindest/node:v1.35.0@sha256:452d707d4862f52530247495d180205e029056831160e22870e37e3f6c1ac31f",
        "kgateway v2.3.7 supports Kubernetes v1.31 to v1.35, not v1.36.1",
    ]
    commands = [" ".join(step.argv) for step in plan.setup]
    assert commands[-1].startswith("kind create cluster ") and "--image=kindest/node:v1.36.1" in commands[-1]


def test_kind_cluster_runs_the_commands_the_plan_shows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The plan renders pytest-kind's commands itself: check them against what KindCluster really runs."""
    monkeypatch.chdir(tmp_path)  # KindCluster keeps a .pytest-kind folder in the working directory
    ran: list[list[str]] = []

    class Subprocess:
        @staticmethod
        def check_output(argv: list[str], **kwargs: Any) -> str:
            return ""  # `kind get clusters`: none yet

        @staticmethod
        def run(argv: list[str], **kwargs: Any) -> None:
            ran.append(argv)

    class KubeConfig:
        @staticmethod
        def from_file(path: Path) -> object:
            return object()

    monkeypatch.setattr(pytest_kind.cluster, "subprocess", Subprocess)
    monkeypatch.setattr(pytest_kind.cluster.pykube, "KubeConfig", KubeConfig)
    monkeypatch.setattr(pytest_kind.cluster.pykube, "HTTPClient", lambda config: object())
    config = CLUSTERS / "kind" / "kind-config.yaml"
    kind = tmp_path / "kind"  # present, so KindCluster never downloads one
    kind.touch()
    for image in (None, "kindest/node:v1.34.0"):
        ran.clear()
        kubeconfig = tmp_path / "kc"
        cluster = pytest_kind.cluster.KindCluster("apikey-conformance", kubeconfig, image, kind, Path("/bin/kubectl"))
        cluster.create(config_file=config)
        cluster.delete()
        assert ran == [
            kind_create_cluster(str(kind), "apikey-conformance", str(kubeconfig), image, config),
            kind_delete_cluster(str(kind), "apikey-conformance", str(kubeconfig)),
        ]
