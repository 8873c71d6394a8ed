"""The pinned install recipes in `clusters/` and the exact command sequence that installs them.

Everything here is pure: functions return argv lists (install `Step`s), which the targets run in order and a
dry run prints (`plan.py`). That keeps the sequence reviewable and unit-tested without a cluster.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from conformance.kube import FIELD_MANAGER
from conformance.kube.versions import Version, VersionRange, image_version

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
    version: str
    namespace: str
    charts: tuple[Chart, ...]
    gateway_file: Path
    gateway: GatewayRef
    #: What the pinned release supports: "kubernetes", "gatewayApi", "helm" ranges.
    supports: Mapping[str, VersionRange]
    #: True when a target option replaced the pinned version (its `supports` then describe another release).
    overridden: bool = False


@dataclass(frozen=True)
class Recipes:
    root: Path
    kubernetes_version: Version
    node_image: str
    tool_minimums: Mapping[str, Version]
    gateway_api_version: str
    gateway_api_channel: str
    gateway_api_manifest: str
    httpbin_file: Path
    httpbin_image: str
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


class _Pins:
    """Reads versions.yaml fields, each error naming the file and the field path."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data = yaml.safe_load(path.read_text(encoding="utf-8"))

    def get(self, *keys: str) -> Any:
        value: Any = self.data
        for depth, key in enumerate(keys):
            if not isinstance(value, Mapping) or key not in value:
                raise ValueError(f"{self.path}: {'.'.join(keys[: depth + 1])} is missing")
            value = value[key]
        return value

    def version(self, *keys: str) -> Version:
        return Version.parse(self.get(*keys), f"{self.path}: {'.'.join(keys)}")

    def range(self, *keys: str) -> VersionRange:
        bounds = self.get(*keys)
        maximum = bounds.get("max") if isinstance(bounds, Mapping) else None
        return VersionRange(
            self.version(*keys, "min"),
            Version.parse(maximum, f"{self.path}: {'.'.join(keys)}.max") if maximum else None,
        )


def _kind_node_image(path: Path) -> str:
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    images = {node.get("image") for node in config.get("nodes") or []}
    if len(images) != 1 or None in images:
        raise ValueError(
            f"{path}: every node must name the same pinned image (nodes[*].image), found {sorted(map(str, images))}"
        )
    return str(images.pop())


def _manifest_images(path: Path) -> set[str]:
    images: set[str] = set()
    for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
        pod = ((document or {}).get("spec") or {}).get("template", {}).get("spec") or {}
        images.update(str(c["image"]) for c in pod.get("containers") or [])
    return images


def load_recipes(root: Path | None = None, overrides: Mapping[str, Any] | None = None) -> Recipes:
    """Read `versions.yaml` and check it against the files it names. `overrides` may hold `gateway_api_version`,
    `kgateway_version`, `agentgateway_version` (target options) to try another release without editing the file."""
    root = root or clusters_dir()
    overrides = overrides or {}
    pins = _Pins(root / "versions.yaml")
    kubernetes = pins.version("kubernetes", "version")
    kind_config = root / pins.get("kind", "config")
    node_image = _kind_node_image(kind_config)
    if image_version(node_image) != kubernetes or "@sha256:" not in node_image:
        raise ValueError(
            f"{kind_config}: nodes[*].image {node_image!r} must be the kindest/node image of kubernetes.version "
            f"{kubernetes} in {pins.path}, pinned by digest (@sha256:...)"
        )
    httpbin_file = root / pins.get("httpbin", "manifest")
    httpbin_image = str(pins.get("httpbin", "image"))
    if _manifest_images(httpbin_file) != {httpbin_image}:
        raise ValueError(f"{httpbin_file}: its image must be httpbin.image of {pins.path} ({httpbin_image})")
    api_version = str(overrides.get("gateway_api_version") or pins.get("gatewayApi", "version"))
    Version.parse(api_version, "gateway_api_version")
    implementations: dict[str, Implementation] = {}
    for name, spec in pins.get("implementations").items():
        override = overrides.get(f"{name}_version")
        version = str(override or pins.get("implementations", name, "version"))
        Version.parse(version, f"{name}_version" if override else f"{pins.path}: implementations.{name}.version")
        gateway_file = root / spec["gateway"]
        implementations[name] = Implementation(
            name=name,
            version=version,
            namespace=spec["namespace"],
            charts=tuple(Chart(c["release"], c["chart"], version) for c in spec["charts"]),
            gateway_file=gateway_file,
            gateway=_gateway_ref(gateway_file),
            supports={
                key: pins.range("implementations", name, "supports", key)
                for key in ("kubernetes", "gatewayApi", "helm")
            },
            overridden=bool(override),
        )
    recipes = Recipes(
        root=root,
        kubernetes_version=kubernetes,
        node_image=node_image,
        tool_minimums={tool: pins.version("tools", tool, "minimum") for tool in pins.get("tools")},
        gateway_api_version=api_version,
        gateway_api_channel=str(pins.get("gatewayApi", "channel")),
        gateway_api_manifest=str(pins.get("gatewayApi", "manifest")).format(version=api_version),
        httpbin_file=httpbin_file,
        httpbin_image=httpbin_image,
        kind_config=kind_config,
        implementations=implementations,
    )
    pinned_problems = compatibility_problems(
        replace(recipes, gateway_api_version=str(pins.get("gatewayApi", "version"))),
        [name for name, impl in implementations.items() if not impl.overridden],
        kubernetes,
    )
    if pinned_problems:
        raise ValueError(f"{pins.path} pins versions that do not fit together: {'; '.join(pinned_problems)}")
    return recipes


def compatibility_problems(recipes: Recipes, implementations: Sequence[str], kubernetes: Version | None) -> list[str]:
    """Where the versions to install fall outside what a pinned implementation release supports (`kubernetes`
    None: the cluster's version is not known, so not checked). An overridden implementation version is not
    checked: the ranges in versions.yaml describe the pinned release."""
    gateway_api = Version.parse(recipes.gateway_api_version, "gateway_api_version")
    problems = []
    for impl in (recipes.implementation(name) for name in implementations):
        if impl.overridden:
            continue
        for what, version in (("kubernetes", kubernetes), ("gatewayApi", gateway_api)):
            supported = impl.supports[what]
            if version is None:
                continue
            if not supported.contains(version):
                label = "Kubernetes" if what == "kubernetes" else "Gateway API"
                problems.append(f"{impl.name} {impl.version} supports {label} {supported}, not {version}")
        for tool, minimum in recipes.tool_minimums.items():
            needed = impl.supports.get(tool)
            if needed is not None and minimum < needed.minimum:
                problems.append(
                    f"{impl.name} {impl.version} needs {tool} >= {needed.minimum}, tools.{tool}.minimum is {minimum}"
                )
    return problems


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


@dataclass(frozen=True)
class Step:
    """One command of an install, why it runs, and the local manifest files it applies (shown in a dry run)."""

    argv: Argv
    why: str
    manifests: tuple[Path, ...] = ()


def install_steps(
    recipes: Recipes, implementations: Sequence[str], *, kubectl: str, helm: str, access: KubeAccess
) -> list[Step]:
    """Gateway API CRDs, then per implementation its CRD and controller charts, httpbin and the profile
    Gateway, then the waits that make the gateway usable (httpbin ready, Gateway accepted, proxy rolled out)."""
    k = kubectl_base(kubectl, access)
    h = helm_base(helm, access)
    chosen = [recipes.implementation(name) for name in implementations]
    steps = [
        Step(
            _apply(k, recipes.gateway_api_manifest),
            f"Gateway API {recipes.gateway_api_version} CRDs, {recipes.gateway_api_channel} channel",
        ),
        Step(
            [
                *k,
                "wait",
                "--for=condition=Established",
                f"--timeout={STEP_TIMEOUT}",
                "crd/gateways.gateway.networking.k8s.io",
                "crd/httproutes.gateway.networking.k8s.io",
                "crd/referencegrants.gateway.networking.k8s.io",
            ],
            "the CRDs the scenarios use are served",
        ),
    ]
    for impl in chosen:
        for chart in impl.charts:
            steps.append(
                Step(
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
                    ],
                    f"{impl.name} {chart.version}: Helm chart {chart.release} (default values)",
                )
            )
        steps.append(
            Step(
                _apply(k, str(recipes.httpbin_file), impl.namespace),
                f"httpbin ({recipes.httpbin_image}) in {impl.namespace}",
                (recipes.httpbin_file,),
            )
        )
        steps.append(
            Step(
                _apply(k, str(impl.gateway_file)),
                f"the {impl.name} profile Gateway {impl.gateway.namespace}/{impl.gateway.name}",
                (impl.gateway_file,),
            )
        )
    for impl in chosen:
        gateway, namespace = impl.gateway, impl.gateway.namespace
        wait = [*k, "wait", "--namespace", namespace]
        rollout = [*k, "rollout", "status", "--namespace"]
        steps += [
            Step(
                [*rollout, impl.namespace, "deployment/httpbin", f"--timeout={STEP_TIMEOUT}"],
                f"httpbin is ready in {impl.namespace}",
            ),
            Step(
                [*wait, "--for=condition=Accepted", f"gateway/{gateway.name}", f"--timeout={STEP_TIMEOUT}"],
                f"{impl.name} accepted its Gateway",
            ),
            # The controller creates the proxy Deployment only after it has accepted the Gateway.
            Step(
                [*wait, "--for=create", f"deployment/{gateway.name}", f"--timeout={STEP_TIMEOUT}"],
                f"{impl.name} created the proxy Deployment",
            ),
            Step(
                [*rollout, namespace, f"deployment/{gateway.name}", f"--timeout={STEP_TIMEOUT}"],
                f"the {impl.name} proxy is ready",
            ),
        ]
    return steps


def kind_get_clusters(kind: str) -> Argv:
    return [kind, "get", "clusters"]


def kind_create_cluster(kind: str, name: str, kubeconfig: str, image: str | None, config: Path) -> Argv:
    """What pytest-kind's `KindCluster.create` runs for a cluster that does not exist yet (a test checks it)."""
    argv = [kind, "create", "cluster", f"--name={name}", f"--kubeconfig={kubeconfig}"]
    if image:
        argv.append(f"--image={image}")
    return [*argv, "--config", str(config)]


def kind_delete_cluster(kind: str, name: str, kubeconfig: str) -> Argv:
    """What pytest-kind's `KindCluster.delete` runs."""
    return [kind, "delete", "cluster", f"--name={name}", f"--kubeconfig={kubeconfig}"]


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
