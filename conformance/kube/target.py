"""The Target behaviour the `kind` and `cluster` targets share: apply, delete, reset, status, addresses."""

from __future__ import annotations

import logging
import shutil
import tempfile
from abc import abstractmethod
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from conformance.kube import options as opts
from conformance.kube.commands import Runner, run_command, tool_path
from conformance.kube.conditions import (
    ObjectRef,
    accepted_condition,
    applied_expectations,
    gone_expectations,
    to_policy_condition,
    wait_for,
)
from conformance.kube.portforward import PortForward
from conformance.kube.recipes import (
    Implementation,
    KubeAccess,
    Recipes,
    kubectl_base,
    load_recipes,
    port_forward_argv,
)
from conformance.targets.base import PolicyCondition, Target

log = logging.getLogger(__name__)

#: Where a policy kind lives when the scenario asks about one it did not apply through this target.
POLICY_API_VERSIONS = {
    "TrafficPolicy": "gateway.kgateway.dev/v1alpha1",
    "AgentgatewayPolicy": "agentgateway.dev/v1alpha1",
}
#: How long reset waits for namespaces it created to finish terminating.
NAMESPACE_DELETE_TIMEOUT = 180.0
VERSION_OPTIONS = ("gateway_api_version", "kgateway_version", "agentgateway_version")


class Api(Protocol):
    def is_namespaced(self, api_version: str, kind: str) -> bool: ...
    def apply(self, manifest: Mapping[str, Any]) -> None: ...
    def get(self, ref: ObjectRef) -> dict[str, Any] | None: ...
    def delete(self, ref: ObjectRef) -> bool: ...
    def namespace_exists(self, name: str) -> bool: ...
    def create_namespace(self, name: str) -> None: ...
    def close(self) -> None: ...


def _default_api(access: KubeAccess, cache_file: str) -> Api:
    from conformance.kube.api import KubeApi

    return KubeApi(access, cache_file=cache_file)


class KubeTarget(Target):
    profiles = frozenset({"kgateway", "agentgateway"})

    def __init__(
        self,
        options: Mapping[str, Any],
        *,
        runner: Runner = run_command,
        api_factory: Callable[[KubeAccess, str], Api] = _default_api,
        port_forward: Callable[[Sequence[str]], PortForward] = PortForward,
        which: Callable[[str], str | None] = shutil.which,
    ) -> None:
        self.options = dict(options)
        self.implementations = opts.implementations(options)
        clusters = opts.text(options, "clusters_dir")
        self.recipes: Recipes = load_recipes(
            Path(clusters) if clusters else None, {k: options[k] for k in VERSION_OPTIONS if options.get(k)}
        )
        work_dir = opts.text(options, "work_dir")
        self.work_dir = Path(work_dir) if work_dir else Path(tempfile.mkdtemp(prefix="apikey-conformance-"))
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.gateway_urls = opts.gateway_urls(options)
        self.poll_interval = opts.poll_interval(options)
        self._runner = runner
        self._api_factory = api_factory
        self._port_forward = port_forward
        self._which = which
        self._api: Api | None = None
        self.access = KubeAccess()
        self._applied: dict[ObjectRef, None] = {}  # insertion-ordered set
        self._created_namespaces: dict[str, None] = {}
        self._forwards: dict[int, PortForward] = {}

    # -- life cycle -------------------------------------------------------------------------------------

    @abstractmethod
    def _prepare(self) -> KubeAccess:
        """Make the cluster ready (create, install) and say how to reach it."""

    def _teardown(self) -> None:
        """Undo what _prepare did, if anything."""

    def start(self) -> None:
        self.access = self._prepare()
        self._api = self._api_factory(self.access, str(self.work_dir / "discovery-cache.json"))
        self._check_gateways()

    def close(self) -> None:
        try:
            for forward in self._forwards.values():
                forward.stop()
            self._forwards.clear()
            if self._api is not None:
                try:
                    self.reset()
                finally:
                    self._api.close()
                    self._api = None
        finally:
            self._teardown()

    @property
    def api(self) -> Api:
        if self._api is None:
            raise RuntimeError(f"target {self.name!r} is not started")
        return self._api

    def _selected(self) -> list[Implementation]:
        return [self.recipes.implementation(name) for name in self.implementations]

    def _check_gateways(self) -> None:
        for impl in self._selected():
            gateway = impl.gateway
            if (
                self.api.get(ObjectRef("gateway.networking.k8s.io/v1", "Gateway", gateway.namespace, gateway.name))
                is None
            ):
                raise RuntimeError(
                    f"Gateway {gateway.namespace}/{gateway.name} for {impl.name} is not in the cluster; "
                    f"install it with --target-option install=true or as docs/certify.md shows"
                )
            if self.api.get(ObjectRef("v1", "Service", gateway.namespace, "httpbin")) is None:
                raise RuntimeError(
                    f"Service {gateway.namespace}/httpbin (the scenarios' upstream) is not in the cluster; "
                    f"apply clusters/httpbin.yaml into namespace {gateway.namespace}"
                )

    # -- resources --------------------------------------------------------------------------------------

    def apply(self, manifests: list[dict[str, Any]]) -> None:
        for manifest in manifests:
            ref = ObjectRef.from_manifest(manifest)
            if self.api.is_namespaced(ref.api_version, ref.kind):
                self._ensure_namespace(ref.namespace or "default")
            self._applied[ref] = None  # before applying, so a half-applied object is still cleaned up
            self.api.apply(manifest)

    def _ensure_namespace(self, name: str) -> None:
        if name in self._created_namespaces or self.api.namespace_exists(name):
            return
        self._created_namespaces[name] = None
        self.api.create_namespace(name)

    def delete(self, manifests: list[dict[str, Any]]) -> None:
        for manifest in reversed(manifests):
            ref = ObjectRef.from_manifest(manifest)
            self.api.delete(ref)
            self._applied.pop(ref, None)

    def reset(self) -> None:
        """Delete, newest first, everything applied since start, then the namespaces created for it; every
        deletion is attempted even when one fails."""
        failures: list[str] = []
        for ref in reversed(list(self._applied)):
            try:
                self.api.delete(ref)
            except Exception as error:
                failures.append(str(error))
        self._applied.clear()
        namespaces = [ObjectRef("v1", "Namespace", None, name) for name in self._created_namespaces]
        for ref in namespaces:
            try:
                self.api.delete(ref)
            except Exception as error:
                failures.append(str(error))
        self._created_namespaces.clear()
        if namespaces:
            # A scenario that reuses the name would otherwise hit "namespace is being terminated".
            try:
                wait_for(gone_expectations(namespaces), self.api.get, NAMESPACE_DELETE_TIMEOUT, poll_interval=0.5)
            except TimeoutError as error:
                failures.append(str(error))
        if failures:
            raise RuntimeError("reset could not clean up: " + "; ".join(failures))

    # -- observation ------------------------------------------------------------------------------------

    def policy_condition(self, kind: str, namespace: str, name: str) -> PolicyCondition | None:
        api_version = next(
            (r.api_version for r in self._applied if (r.kind, r.namespace, r.name) == (kind, namespace, name)),
            POLICY_API_VERSIONS.get(kind),
        )
        if api_version is None:
            raise ValueError(f"unknown policy kind {kind!r}; expected one of {', '.join(POLICY_API_VERSIONS)}")
        condition = accepted_condition(self.api.get(ObjectRef(api_version, kind, namespace, name)))
        return to_policy_condition(condition) if condition is not None else None

    def wait_applied(self, manifests: list[dict[str, Any]], timeout: float) -> None:
        wait_for(applied_expectations(manifests), self.api.get, timeout, poll_interval=self.poll_interval)

    # -- addresses --------------------------------------------------------------------------------------

    def base_url(self, listener_port: int) -> str:
        if listener_port in self.gateway_urls:
            return self.gateway_urls[listener_port]
        forward = self._forwards.get(listener_port)
        if forward is None or not forward.alive():  # kubectl exits when the proxy pod is replaced
            if forward is not None:
                forward.stop()
            forward = self._start_forward(listener_port)
            self._forwards[listener_port] = forward
        return f"http://127.0.0.1:{forward.local_port}"

    def _kubectl(self) -> str:
        return tool_path("kubectl", self._which)

    def _start_forward(self, listener_port: int) -> PortForward:
        for impl in self._selected():
            if listener_port in impl.gateway.listener_ports:
                gateway = impl.gateway
                argv = port_forward_argv(
                    kubectl_base(self._kubectl(), self.access), gateway.namespace, gateway.service, listener_port
                )
                forward = self._port_forward(argv)
                forward.start()
                return forward
        known = sorted({p for impl in self._selected() for p in impl.gateway.listener_ports})
        raise ValueError(
            f"no Gateway listener on port {listener_port} for {', '.join(self.implementations)} "
            f"(listeners: {', '.join(map(str, known))}); pass --target-option gateway_url_{listener_port}=URL"
        )
