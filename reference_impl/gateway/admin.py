"""The admin endpoint: readiness, policy status conditions, per-client counters, a key-free config view."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from reference_impl.gateway.app import respond
from reference_impl.gateway.observe import Counters
from reference_impl.health import Health, snapshot_health
from reference_impl.store import Store

HealthSource = Callable[[], Health]


def health_of(store: Store, sources: list[HealthSource]) -> Health:
    health = snapshot_health(store.snapshot)
    for source in sources:
        health = health + source()
    return health


def ready_response(store: Store, sources: list[HealthSource]) -> tuple[int, str]:
    """/ready: 503 when the gateway cannot be trusted to enforce its configuration, else 200; both list why."""
    health = health_of(store, sources)
    generation = store.snapshot.generation
    if health.fatal:
        lines = [f"not ready generation={generation}", *(f"fatal: {p}" for p in health.fatal)]
        lines += [f"degraded: {p}" for p in health.degraded]
        return 503, "\n".join(lines) + "\n"
    if health.degraded:
        lines = [f"degraded generation={generation}", *(f"degraded: {p}" for p in health.degraded)]
        return 200, "\n".join(lines) + "\n"
    return 200, f"ready generation={generation}\n"


def status_document(store: Store, sources: list[HealthSource] | None = None) -> dict[str, Any]:
    snapshot = store.snapshot
    health = health_of(store, sources or [])
    return {
        "generation": snapshot.generation,
        "problems": {"fatal": list(health.fatal), "degraded": list(health.degraded)},
        "policies": [
            {"kind": kind, "namespace": ns, "name": name, "conditions": [condition.as_dict()]}
            for (kind, ns, name), condition in sorted(snapshot.policy_status.items())
        ],
        "gateways": [
            {"namespace": ns, "name": name, "conditions": [condition.as_dict()]}
            for (ns, name), condition in sorted(snapshot.gateway_status.items())
        ],
        "routes": [
            {"namespace": ns, "name": name, "conditions": [c.as_dict() for c in conditions]}
            for (ns, name), conditions in sorted(snapshot.route_status.items())
        ],
    }


def config_document(store: Store) -> dict[str, Any]:
    """Routes and their effective policy. Keys are never shown, only how many a policy holds."""
    listeners = []
    for port, table in sorted(store.snapshot.listeners.items()):
        seen = []
        groups = [("*", table.catch_all), *[(s, c) for s, c in table.wildcard], *table.exact.items()]
        for host, candidates in groups:
            for candidate in candidates:
                rule = candidate.rule
                auth = rule.auth
                keys = getattr(auth, "clients", None) or getattr(auth, "keys", None)
                seen.append(
                    {
                        "host": host if not host.startswith(".") else "*" + host,
                        "rule": rule.label,
                        "policy": rule.policy,
                        "auth": type(auth).__name__ if auth is not None else None,
                        "keys": len(keys) if keys is not None else 0,
                        "backend": rule.backend,
                    }
                )
        listeners.append({"port": port, "routes": seen})
    return {"generation": store.snapshot.generation, "listeners": listeners}


class Admin:
    def __init__(self, store: Store, counters: Counters, health: list[HealthSource] | None = None) -> None:
        self.store = store
        self.counters = counters
        self.health = health if health is not None else []  # e.g. the watched folder's state

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"].rstrip("/") or "/"
        if scope["method"] not in ("GET", "HEAD"):
            await respond(send, 405, b"admin endpoints are read-only: use GET")
            return
        if path == "/ready":
            status, text = ready_response(self.store, self.health)
            await respond(send, status, text.encode("utf-8"))
            return
        documents = {
            "/status": lambda: status_document(self.store, self.health),
            "/stats": lambda: {"clients": self.counters.snapshot()},
            "/config": lambda: config_document(self.store),
            "/": lambda: {"endpoints": ["/ready", "/status", "/stats", "/config"]},
        }
        make = documents.get(path)
        if make is None:
            await respond(send, 404, b"unknown admin endpoint; try /status, /stats, /config or /ready")
            return
        body = json.dumps(make(), indent=2).encode("utf-8")
        await respond(send, 200, body, b"application/json")
