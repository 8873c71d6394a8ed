"""The admin endpoint: readiness, policy status conditions, per-client counters, a key-free config view."""

from __future__ import annotations

import json
from typing import Any

from reference_impl.gateway.app import respond
from reference_impl.gateway.observe import Counters
from reference_impl.store import Store


def status_document(store: Store) -> dict[str, Any]:
    snapshot = store.snapshot
    return {
        "generation": snapshot.generation,
        "policies": [
            {"kind": kind, "namespace": ns, "name": name, "conditions": [condition.as_dict()]}
            for (kind, ns, name), condition in sorted(snapshot.policy_status.items())
        ],
        "gateways": [
            {"namespace": ns, "name": name, "conditions": [condition.as_dict()]}
            for (ns, name), condition in sorted(snapshot.gateway_status.items())
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
    def __init__(self, store: Store, counters: Counters) -> None:
        self.store = store
        self.counters = counters

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"].rstrip("/") or "/"
        if scope["method"] not in ("GET", "HEAD"):
            await respond(send, 405, b"admin endpoints are read-only: use GET")
            return
        if path == "/ready":
            await respond(send, 200, f"ready generation={self.store.snapshot.generation}\n".encode())
            return
        documents = {
            "/status": lambda: status_document(self.store),
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
