"""The pinned install recipes in `clusters/` and the exact command sequence that installs them.

Everything here is pure: functions return argv lists, which `commands.run_all` executes. That keeps the
sequence reviewable and unit-tested without a cluster.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from conformance.kube import FIELD_MANAGER

Argv = list[str]

#: How long kubectl / helm may wait for one step (image pulls on a fresh kind node dominate).
STEP_TIMEOUT = "300s"


def clusters_dir() -> Path:
    """`clusters/` of a source checkout, else the copy packaged into the wheel."""
    package = Path(__file__).resolve().parents[1]
    for candidate in (package.parent / "clusters", package / "_data" / "clusters"):
        if (candidate / "versions.yaml").is_file():
            return candidate
    raise FileNotFoundError("clusters/versions.yaml not found next to the conformance package")


@dataclass(frozen=True)
class Chart:
    release: str
    chart: str
    version: str


@dataclass(frozen=True)
class GatewayRef:
    """The profile Gateway; its controller names the Deployment and Service after it."""

    name: str
    namespace: str
    listener_ports: tuple[int, ...]

    @property
    def service(self) -> str:
        return self.name


@dataclass(frozen=True)
class Implementation:
    name: str
    namespace: str
    charts: tuple[Chart, ...]
    gateway_file: Path
    gateway: GatewayRef


@dataclass(frozen=True)
class Recipes:
    root: Path
    gateway_api_version: str
    gateway_api_manifest: str
    httpbin_file: Path
    kind_config: Path
    implementations: Mapping[str, Implementation]

    def implementation(self, name: str) -> Implementation:
        try:
            return self.implementations[name]
        except KeyError:
            raise ValueError(f"no install recipe for {name!r} in {self.root / 'versions.yaml'}") from None


def _gateway_ref(path: Path) -> GatewayRef:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    listeners = document["spec"]["listeners"]
    return GatewayRef(
        name=document["metadata"]["name"],
        namespace=document["metadata"]["namespace"],
        listener_ports=tuple(int(listener["port"]) for listener in listeners),
    )


def load_recipes(root: Path | None = None, overrides: Mapping[str, Any] | None = None) -> Recipes:
    """Read `versions.yaml`. `overrides` may hold `gateway_api_version`, `kgateway_version`,
    `agentgateway_version` (target options) to try another release without editing the file."""
    root = root or clusters_dir()
    overrides = overrides or {}
    pinned = yaml.safe_load((root / "versions.yaml").read_text(encoding="utf-8"))
    api_version = str(overrides.get("gateway_api_version") or pinned["gatewayApi"]["version"])
    implementations: dict[str, Implementation] = {}
    for name, spec in pinned["implementations"].items():
        version = str(overrides.get(f"{name}_version") or spec["version"])
        gateway_file = root / spec["gateway"]
        implementations[name] = Implementation(
            name=name,
            namespace=spec["namespace"],
            charts=tuple(Chart(c["release"], c["chart"], version) for c in spec["charts"]),
            gateway_file=gateway_file,
            gateway=_gateway_ref(gateway_file),
        )
    return Recipes(
        root=root,
        gateway_api_version=api_version,
        gateway_api_manifest=pinned["gatewayApi"]["manifest"].format(version=api_version),
        httpbin_file=root / pinned["httpbin"]["manifest"],
        kind_config=root / pinned["kind"]["config"],
        implementations=implementations,
    )


@dataclass(frozen=True)
class KubeAccess:
    """Which cluster: a kubeconfig file (None: kubectl's default) and a context (None: its current one)."""

    kubeconfig: str | None = None
    context: str | None = None


def kubectl_base(kubectl: str, access: KubeAccess) -> Argv:
    argv = [kubectl]
    if access.kubeconfig:
        argv += ["--kubeconfig", access.kubeconfig]
    if access.context:
        argv += ["--context", access.context]
    return argv


def helm_base(helm: str, access: KubeAccess) -> Argv:
    argv = [helm]
    if access.kubeconfig:
        argv += ["--kubeconfig", access.kubeconfig]
    if access.context:
        argv += ["--kube-context", access.context]
    return argv


def _apply(kubectl: Argv, source: str, namespace: str | None = None) -> Argv:
    argv = [*kubectl, "apply", "--server-side", "--force-conflicts", f"--field-manager={FIELD_MANAGER}"]
    if namespace:
        argv += ["--namespace", namespace]
    return [*argv, "--filename", source]


def install_commands(
    recipes: Recipes, implementations: Sequence[str], *, kubectl: str, helm: str, access: KubeAccess
) -> list[Argv]:
    """Gateway API CRDs, then per implementation its CRD and controller charts, httpbin and the profile
    Gateway, then the waits that make the gateway usable (httpbin ready, Gateway accepted, proxy rolled out)."""
    k = kubectl_base(kubectl, access)
    h = helm_base(helm, access)
    chosen = [recipes.implementation(name) for name in implementations]
    commands: list[Argv] = [
        _apply(k, recipes.gateway_api_manifest),
        [
            *k,
            "wait",
            "--for=condition=Established",
            f"--timeout={STEP_TIMEOUT}",
            "crd/gateways.gateway.networking.k8s.io",
            "crd/httproutes.gateway.networking.k8s.io",
            "crd/referencegrants.gateway.networking.k8s.io",
        ],
    ]
    for impl in chosen:
        for chart in impl.charts:
            commands.append(
                [
                    *h,
                    "upgrade",
                    "--install",
                    chart.release,
                    chart.chart,
                    "--version",
                    chart.version,
                    "--namespace",
                    impl.namespace,
                    "--create-namespace",
                    "--wait",
                    "--timeout",
                    STEP_TIMEOUT,
                ]
            )
        commands.append(_apply(k, str(recipes.httpbin_file), impl.namespace))
        commands.append(_apply(k, str(impl.gateway_file)))
    for impl in chosen:
        gateway, namespace = impl.gateway, impl.gateway.namespace
        commands += [
            [*k, "rollout", "status", "--namespace", impl.namespace, "deployment/httpbin", f"--timeout={STEP_TIMEOUT}"],
            [
                *k,
                "wait",
                "--namespace",
                namespace,
                "--for=condition=Accepted",
                f"gateway/{gateway.name}",
                f"--timeout={STEP_TIMEOUT}",
            ],
            # The controller creates the proxy Deployment only after it has accepted the Gateway.
            [
                *k,
                "wait",
                "--namespace",
                namespace,
                "--for=create",
                f"deployment/{gateway.name}",
                f"--timeout={STEP_TIMEOUT}",
            ],
            [
                *k,
                "rollout",
                "status",
                "--namespace",
                namespace,
                f"deployment/{gateway.name}",
                f"--timeout={STEP_TIMEOUT}",
            ],
        ]
    return commands


def kind_get_clusters(kind: str) -> Argv:
    return [kind, "get", "clusters"]


def kind_export_kubeconfig(kind: str, name: str, kubeconfig: str) -> Argv:
    # A reused cluster's kubeconfig may not be in our file yet; KindCluster.create only writes it on creation.
    return [kind, "export", "kubeconfig", "--name", name, "--kubeconfig", kubeconfig]


def port_forward_argv(kubectl: Argv, namespace: str, service: str, port: int) -> Argv:
    # ":PORT" lets kubectl pick a free local port, which it prints; binding only loopback keeps it private.
    return [
        *kubectl,
        "port-forward",
        "--namespace",
        namespace,
        "--address",
        "127.0.0.1",
        f"service/{service}",
        f":{port}",
    ]
