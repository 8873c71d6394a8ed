"""A small client for Envoy's admin interface: readiness, applied config versions, counters."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

API_KEY_AUTH_COUNTERS = ("allowed", "unauthorized", "forbidden")


@dataclass(frozen=True)
class AppliedVersions:
    """What Envoy has accepted: LDS / CDS versions, and per RouteConfiguration the RDS version."""

    lds: str | None
    cds: str | None
    routes: dict[str, str] = field(default_factory=dict)
    warming_listeners: tuple[str, ...] = ()
    listener_errors: tuple[str, ...] = ()


class Admin:
    def __init__(self, address: str) -> None:
        self.base = f"http://{address}"

    def get(self, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self.base + path, timeout=timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def ready(self) -> bool:
        try:
            status, _ = self.get("/ready", timeout=1.0)
        except OSError:
            return False
        return status == 200

    def config_dump(self) -> dict[str, Any]:
        _, body = self.get("/config_dump")
        return json.loads(body)

    def applied_versions(self) -> AppliedVersions:
        return parse_versions(self.config_dump())

    def accepted_versions(self) -> AppliedVersions:
        """The version of the last update each xDS subscription accepted (the `version_text` readouts): LDS, CDS and
        each RDS route configuration. Unlike the config dump, a route configuration whose content did not change
        still shows the version of the update that carried it."""
        _, body = self.get("/stats?filter=version_text")
        return parse_version_texts(body.decode("utf-8", errors="replace"))

    def counters(self) -> dict[str, int]:
        _, body = self.get("/stats?format=json&type=Counters")
        return {s["name"]: int(s.get("value", 0)) for s in json.loads(body).get("stats", []) if "name" in s}

    def rejected_updates(self) -> str:
        """Envoy's `*update_rejected` counters that are not zero (`name=count, ...`), or "" if none or unreadable."""
        try:
            counters = self.counters()
        except (OSError, ValueError):
            return ""
        return ", ".join(f"{k}={v}" for k, v in sorted(counters.items()) if k.endswith("update_rejected") and v)

    def api_key_auth_stats(self) -> dict[str, int]:
        return sum_api_key_auth(self.counters())


def parse_versions(dump: dict[str, Any]) -> AppliedVersions:
    lds = cds = None
    routes: dict[str, str] = {}
    warming: list[str] = []
    errors: list[str] = []
    for config in dump.get("configs", []):
        kind = config.get("@type", "")
        if kind.endswith("ListenersConfigDump"):
            lds = config.get("version_info")
            for listener in config.get("dynamic_listeners", []):
                if "warming_state" in listener:
                    warming.append(listener.get("name", ""))
                if "error_state" in listener:
                    errors.append(listener.get("name", ""))
        elif kind.endswith("ClustersConfigDump"):
            cds = config.get("version_info")
        elif kind.endswith("RoutesConfigDump"):
            for route in config.get("dynamic_route_configs", []):
                name = route.get("route_config", {}).get("name")
                if name:
                    routes[name] = route.get("version_info", "")
    return AppliedVersions(lds, cds, routes, tuple(warming), tuple(errors))


def sum_api_key_auth(counters: dict[str, int]) -> dict[str, int]:
    """`http.<prefix>.api_key_auth.<counter>` summed over every listener."""
    totals = dict.fromkeys(API_KEY_AUTH_COUNTERS, 0)
    for name, value in counters.items():
        head, _, counter = name.rpartition(".")
        if head.endswith(".api_key_auth") and counter in totals:
            totals[counter] += value
    return totals


def parse_version_texts(text: str) -> AppliedVersions:
    """From admin `/stats?filter=version_text` lines (`name: "value"`)."""
    lds = cds = None
    routes: dict[str, str] = {}
    for line in text.splitlines():
        name, sep, value = line.partition(": ")
        if not sep or not name.endswith(".version_text"):
            continue
        version = value.strip().strip('"')
        if name == "listener_manager.lds.version_text":
            lds = version
        elif name == "cluster_manager.cds.version_text":
            cds = version
        elif ".rds." in name:  # http.<stat prefix>.rds.<route configuration>.version_text
            routes[name.split(".rds.", 1)[1].removesuffix(".version_text")] = version
    return AppliedVersions(lds or None, cds or None, {k: v for k, v in routes.items() if v})
