"""The Target behaviour the `kind` and `cluster` targets share: apply, delete, reset, status, addresses."""

from __future__ import annotations

import logging
import shutil
import tempfile
from abc import abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar, Protocol

from conformance.kube.commands import Runner, run_command, tool_path
from conformance.kube.conditions import (
    Expectation,
    ObjectRef,
    accepted_condition,
    applied_expectations,
    gone_expectations,
    service_port,
    to_policy_condition,
    wait_for,
)
from conformance.kube.plan import Plan, render
from conformance.kube.portforward import PortForward
from conformance.kube.recipes import (
    Implementation,
    KubeAccess,
    Recipes,
    Step,
    compatibility_problems,
    install_steps,
    kubectl_base,
    load_recipes,
    port_forward_argv,
)
from conformance.kube.tools import ToolCheck, check_tools, skew_note, tool_problems
from conformance.kube.versions import Version
from conformance.releases import VersionUnderTest
from conformance.targets.base import PolicyCondition, Target, TargetUnavailable
from conformance.targets.options import KubeOptions, TargetOptions
from reference_impl.poll import SYSTEM, Clock, poll

log = logging.getLogger(__name__)

#: Where a policy kind lives when the scenario asks about one it did not apply through this target.
POLICY_API_VERSIONS = {
    "TrafficPolicy": "gateway.kgateway.dev/v1alpha1",
    "AgentgatewayPolicy": "agentgateway.dev/v1alpha1",
}
#: apiVersions for steps that name an object only by kind, namespace and name.
KNOWN_API_VERSIONS = {
    **POLICY_API_VERSIONS,
    "Secret": "v1",
    "ConfigMap": "v1",
    "Namespace": "v1",
    "Gateway": "gateway.networking.k8s.io/v1",
    "HTTPRoute": "gateway.networking.k8s.io/v1",
    "ReferenceGrant": "gateway.networking.k8s.io/v1beta1",
}
#: kubectl's copy of the last client-side apply; restoring it would claim ownership of an old snapshot.
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
#: How long reset waits for namespaces it created to finish terminating.
NAMESPACE_DELETE_TIMEOUT = 180.0


def _recipes(options: KubeOptions) -> Recipes:
    return load_recipes(options.clusters_dir, options.version_overrides)


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
    Options: ClassVar[type[KubeOptions]] = KubeOptions
    options: KubeOptions
    profiles = frozenset({"kgateway", "agentgateway"})

    def __init__(
        self,
        options: Mapping[str, Any] | KubeOptions | None = None,
        *,
        runner: Runner = run_command,
        api_factory: Callable[[KubeAccess, str], Api] = _default_api,
        port_forward: Callable[[Sequence[str]], PortForward] = PortForward,
        which: Callable[[str], str | None] = shutil.which,
        clock: Clock = SYSTEM,
    ) -> None:
        super().__init__(options)
        self.implementations = self.options.implementations
        self.recipes: Recipes = _recipes(self.options)
        work_dir = self.options.work_dir
        self.work_dir = work_dir or Path(tempfile.mkdtemp(prefix="apikey-conformance-"))
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.gateway_urls = self.options.gateway_urls
        self.poll_interval = self.options.consistency.poll_interval
        self.dry_run = self.options.dry_run
        self.forward_timeout = self.options.forward_timeout
        self._runner = runner
        self._clock = clock
        self._api_factory = api_factory
        self._port_forward = port_forward
        self._which = which
        self._api: Api | None = None
        self.access = KubeAccess()
        self._applied: dict[ObjectRef, None] = {}  # created by this run; insertion-ordered set
        self._originals: dict[ObjectRef, dict[str, Any]] = {}  # existed before; restored on reset
        self._gateway_ports: dict[ObjectRef, tuple[int, ...]] = {}  # listeners of Gateways scenarios applied
        self._created_namespaces: dict[str, None] = {}
        self._forwards: dict[int, PortForward] = {}

    # -- life cycle -------------------------------------------------------------------------------------

    @classmethod
    def implementation_versions(cls, options: Mapping[str, Any] | TargetOptions) -> dict[str, VersionUnderTest]:
        """The releases a run installs: those clusters/versions.yaml pins (or a `<name>_version` target option).
        A run that installs nothing cannot know what the cluster runs, so it names no release."""
        parsed = cls.Options.parse(options)
        if not parsed.installs:
            return {}
        recipes = _recipes(parsed)
        return {
            name: VersionUnderTest(
                name,
                impl.version,
                f"target option {name}_version" if impl.overridden else f"{recipes.root / 'versions.yaml'}",
            )
            for name, impl in recipes.implementations.items()
        }

    def versions(self) -> dict[str, str]:
        """The releases of Gateway API and of each implementation's charts: installed by this run, or only
        pinned (a cluster the run did not install may hold others)."""
        note = "" if self.installs else " (pinned; not installed by this run)"
        found = {"gateway-api": f"{self.recipes.gateway_api_version} {self.recipes.gateway_api_channel}{note}"}
        found.update({impl.name: f"{impl.version}{note}" for impl in self._selected()})
        return found

    def gateway_api(self) -> tuple[str, str]:
        if not self.installs:
            return super().gateway_api()
        return self.recipes.gateway_api_version, self.recipes.gateway_api_channel

    @classmethod
    @abstractmethod
    def required_tools(cls, options: KubeOptions) -> list[str]:
        """The command-line tools a run with these options uses."""

    @property
    def installs(self) -> bool:
        """Whether this run installs the pinned releases from clusters/."""
        return self.options.installs

    @abstractmethod
    def _prepare(self) -> KubeAccess:
        """Make the cluster ready (create, install) and say how to reach it."""

    def _teardown(self) -> None:
        """Undo what _prepare did, if anything."""

    @abstractmethod
    def _access(self) -> KubeAccess:
        """How the run reaches the cluster (known before the cluster exists, for the plan)."""

    def _setup_steps(self) -> list[Step]:
        """The commands before the install, for the plan."""
        return []

    def _teardown_steps(self) -> list[Step]:
        """The commands at the end of the run, for the plan."""
        return []

    def _kubernetes_version(self) -> Version | None:
        """The cluster's Kubernetes version when known before it answers (kind: its node image)."""
        return None

    def _environment_problems(self) -> list[str]:
        """What else a real run needs from this machine (kind: a Docker engine)."""
        return []

    def _kubernetes_line(self) -> str:
        return "Kubernetes: the cluster's own version (each implementation's supported range is below)"

    def _version_notes(self, tools: Sequence[ToolCheck]) -> list[str]:
        kubernetes = self._kubernetes_version()
        notes = compatibility_problems(self.recipes, self.implementations, kubernetes)
        kubectl = next((check.version for check in tools if check.name == "kubectl"), None)
        skew = skew_note(kubectl, kubernetes) if kubernetes is not None else None
        return [*notes, skew] if skew else notes

    def _install(self, access: KubeAccess) -> None:
        for problem in compatibility_problems(self.recipes, self.implementations, self._kubernetes_version()):
            log.warning("outside the supported versions: %s", problem)
        kubectl, helm = tool_path("kubectl", self._which), tool_path("helm", self._which)
        for step in install_steps(self.recipes, self.implementations, kubectl=kubectl, helm=helm, access=access):
            log.info("install: %s", step.why)
            self._runner(step.argv)

    def plan(self) -> Plan:
        """What start() would run, in order, without running any of it."""
        tools = check_tools(
            self.required_tools(self.options), self.recipes.tool_minimums, which=self._which, run=self._runner
        )
        problems = self._environment_problems() + tool_problems(tools)
        notes = [f"a real run here would stop: {problem}" for problem in problems] + self._version_notes(tools)
        kubectl, helm = self._which("kubectl") or "kubectl", self._which("helm") or "helm"
        install = install_steps(self.recipes, self.implementations, kubectl=kubectl, helm=helm, access=self._access())
        return Plan(
            target=self.name,
            kubernetes=self._kubernetes_line(),
            recipes=self.recipes,
            implementations=self.implementations,
            tools=tools,
            setup=self._setup_steps(),
            install=install if self.installs else (),
            teardown=self._teardown_steps(),
            notes=notes,
        )

    def _print_plan(self) -> None:
        text = render(self.plan())
        path = self.work_dir / "install-plan.txt"
        path.write_text(text, encoding="utf-8")
        log.info("%s", text.rstrip("\n"))
        raise TargetUnavailable(
            f"dry run of target {self.name!r}: printed the install plan (also in {path}); "
            f"nothing was created or installed, so no scenario ran"
        )

    def start(self) -> None:
        if self.dry_run:
            self._print_plan()
        try:
            self.access = self._prepare()
            cache = self.work_dir / f"discovery-{self.access.context or 'default'}.json"  # one per cluster
            self._api = self._api_factory(self.access, str(cache))
            self._check_gateways()
        except BaseException:
            self.close()  # e.g. delete a kind cluster this run created before the install failed
            raise

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

    def _ref(self, manifest: Mapping[str, Any]) -> ObjectRef:
        """The object a manifest names, with a namespaced kind's namespace defaulted and a missing apiVersion
        (a step that deletes "the TrafficPolicy ns/name") taken from what was applied or the known kinds."""
        meta = manifest.get("metadata") or {}
        kind, name, namespace = manifest.get("kind"), meta.get("name"), meta.get("namespace")
        api_version = manifest.get("apiVersion") or next(
            (
                r.api_version
                for r in self._tracked()
                if (r.kind, r.name) == (kind, name) and namespace in (None, r.namespace)
            ),
            KNOWN_API_VERSIONS.get(str(kind)),
        )
        ref = ObjectRef.from_manifest({**manifest, "apiVersion": api_version})
        namespaced = self.api.is_namespaced(ref.api_version, ref.kind)
        return replace(ref, namespace=(ref.namespace or "default") if namespaced else None)

    def _tracked(self) -> list[ObjectRef]:
        return [*self._applied, *self._originals]

    def apply(self, manifests: list[dict[str, Any]]) -> None:
        for manifest in manifests:
            ref = self._ref(manifest)
            if ref.namespace:
                self._ensure_namespace(ref.namespace)
            if ref not in self._applied and ref not in self._originals:
                # An object that was there before (the installed Gateway a scenario extends with a listener)
                # is put back as it was on reset, never deleted; anything new is deleted.
                current = self.api.get(ref)
                if current is None:
                    self._applied[ref] = None  # before applying: a half-applied object is still cleaned up
                else:
                    self._originals[ref] = restorable(current)
            if ref.kind == "Gateway":
                self._gateway_ports[ref] = listener_ports(manifest)
            self.api.apply(manifest)

    def _ensure_namespace(self, name: str) -> None:
        if name in self._created_namespaces or self.api.namespace_exists(name):
            return
        self._created_namespaces[name] = None
        self.api.create_namespace(name)

    def delete(self, manifests: list[dict[str, Any]]) -> None:
        for manifest in reversed(manifests):
            ref = self._ref(manifest)
            self.api.delete(ref)
            self._applied.pop(ref, None)  # an original stays recorded, so reset recreates it

    def reset(self) -> None:
        """Delete, newest first, everything created since start, put back what existed before, then delete
        the namespaces created for it; every step is attempted even when one fails."""
        failures: list[str] = []
        for ref in reversed(list(self._applied)):
            try:
                self.api.delete(ref)
            except Exception as error:
                failures.append(str(error))
        self._applied.clear()
        for ref, original in self._originals.items():
            try:
                self.api.apply(original)
            except Exception as error:
                failures.append(f"could not restore {ref.label}: {error}")
        self._originals.clear()
        self._gateway_ports.clear()
        for port in [p for p in self._forwards if p not in self._installed_ports()]:
            self._forwards.pop(port).stop()  # a listener the scenario added is gone again
        failures += self._remove_namespaces(list(self._created_namespaces))
        if failures:
            raise RuntimeError("reset could not clean up: " + "; ".join(failures))

    def _remove_namespaces(self, names: list[str]) -> list[str]:
        """Delete the namespaces a scenario created and wait until they are gone (a scenario that reuses the name
        would otherwise hit "namespace is being terminated"); what went wrong, if anything."""
        failures: list[str] = []
        namespaces = [ObjectRef("v1", "Namespace", None, name) for name in names]
        for ref in namespaces:
            try:
                self.api.delete(ref)
            except Exception as error:
                failures.append(str(error))
        self._created_namespaces.clear()
        if namespaces:
            try:
                wait_for(gone_expectations(namespaces), self.api.get, NAMESPACE_DELETE_TIMEOUT, poll_interval=0.5)
            except TimeoutError as error:
                failures.append(str(error))
        return failures

    # -- observation ------------------------------------------------------------------------------------

    def policy_condition(self, kind: str, namespace: str, name: str) -> PolicyCondition | None:
        api_version = next(
            (r.api_version for r in self._tracked() if (r.kind, r.namespace, r.name) == (kind, namespace, name)),
            POLICY_API_VERSIONS.get(kind),
        )
        if api_version is None:
            raise ValueError(f"unknown policy kind {kind!r}; expected one of {', '.join(POLICY_API_VERSIONS)}")
        condition = accepted_condition(self.api.get(ObjectRef(api_version, kind, namespace, name)))
        return to_policy_condition(condition) if condition is not None else None

    def wait_applied(self, manifests: list[dict[str, Any]], timeout: float) -> None:
        wait_for(applied_expectations(manifests), self.api.get, timeout, poll_interval=self.poll_interval)

    def wait_deleted(self, manifests: list[dict[str, Any]], timeout: float) -> None:
        refs = [self._ref(manifest) for manifest in manifests]
        wait_for(gone_expectations(refs), self.api.get, timeout, poll_interval=self.poll_interval)

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

    def _installed_ports(self) -> set[int]:
        return {port for impl in self._selected() for port in impl.gateway.listener_ports}

    def _listener_owner(self, listener_port: int) -> tuple[str, str] | None:
        """(namespace, Gateway) serving the port: a Gateway the scenario applied, else an installed one."""
        for ref, ports in reversed(self._gateway_ports.items()):
            if listener_port in ports and ref.namespace:
                return ref.namespace, ref.name
        for impl in self._selected():
            if listener_port in impl.gateway.listener_ports:
                return impl.gateway.namespace, impl.gateway.service
        return None

    def _start_forward(self, listener_port: int) -> PortForward:
        owner = self._listener_owner(listener_port)
        if owner is None:
            known = sorted(self._installed_ports() | {p for ports in self._gateway_ports.values() for p in ports})
            raise ValueError(
                f"no Gateway listener on port {listener_port} for {', '.join(self.implementations)} "
                f"(listeners: {', '.join(map(str, known))}); pass --target-option gateway_url_{listener_port}=URL"
            )
        namespace, service = owner  # the controllers name the Gateway's Service after the Gateway
        began = self._clock.now()  # one forward_timeout for both waits below
        # A listener a scenario just added reaches the Service a moment after the Gateway is accepted; kubectl
        # refuses a port the Service does not have yet, so wait for it first.
        ref = ObjectRef("v1", "Service", namespace, service)
        expectation = Expectation(ref, f"port {listener_port}", service_port(listener_port))
        wait_for([expectation], self.api.get, self.forward_timeout, clock=self._clock, poll_interval=self.poll_interval)
        argv = port_forward_argv(kubectl_base(self._kubectl(), self.access), namespace, service, listener_port)
        started: list[PortForward] = []

        def forwarded() -> str | None:
            forward = self._port_forward(argv)
            try:
                forward.start()
            except RuntimeError as error:  # e.g. the proxy pod for the new port is not running yet
                log.info("port-forward to %s/%s:%s not ready (%s); retrying", namespace, service, listener_port, error)
                return str(error)
            started.append(forward)
            return None

        poll(
            forwarded,
            timeout=max(0.0, self.forward_timeout - (self._clock.now() - began)),
            what=f"a port-forward to Service {namespace}/{service} port {listener_port}",
            interval=self.poll_interval,
            on_timeout=lambda error, _, __: RuntimeError(
                f"no port-forward to Service {namespace}/{service} port {listener_port} within "
                f"{self.forward_timeout:g} s: {error}"
            ),
            clock=self._clock,
        )
        return started[0]


def listener_ports(gateway: Mapping[str, Any]) -> tuple[int, ...]:
    return tuple(int(listener["port"]) for listener in (gateway.get("spec") or {}).get("listeners") or [])


def restorable(obj: Mapping[str, Any]) -> dict[str, Any]:
    """An object as read back, reduced to what can be applied again to restore it."""
    meta = obj.get("metadata") or {}
    kept_meta: dict[str, Any] = {key: meta[key] for key in ("name", "namespace", "labels") if meta.get(key)}
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k != LAST_APPLIED}
    if annotations:
        kept_meta["annotations"] = annotations
    body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata", "status")}
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "metadata": kept_meta, **body}
