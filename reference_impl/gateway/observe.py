"""Access log and per-client counters. Neither ever sees a key: only entry names and decisions."""

from __future__ import annotations

import json
import logging
import threading
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

access_logger = logging.getLogger("reference_impl.access")


@dataclass(frozen=True, slots=True)
class AccessRecord:
    listener: int
    method: str
    host: str
    path: str  # without the query string: a query may carry the key
    route: str | None
    policy: str | None
    decision: str  # allowed | anonymous | permissive-invalid | missing | invalid | invalid-policy | no-auth | no-route
    client: str | None
    status: int
    duration_ms: float

    def as_json(self) -> str:
        return json.dumps(
            {
                "listener": self.listener,
                "method": self.method,
                "host": self.host,
                "path": self.path,
                "route": self.route,
                "policy": self.policy,
                "decision": self.decision,
                "client": self.client,
                "status": self.status,
                "duration_ms": round(self.duration_ms, 3),
            },
            separators=(",", ":"),
        )


def log_access(record: AccessRecord) -> None:
    if access_logger.isEnabledFor(logging.INFO):  # skip the JSON work when nobody listens
        access_logger.info(record.as_json())


class Counters:
    """Allowed / denied counts per policy and client. Denials without a known client count under the reason."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: {"allowed": 0, "denied": 0})

    def record(self, policy: str, client: str, allowed: bool) -> None:
        with self._lock:
            self._counts[(policy, client)]["allowed" if allowed else "denied"] += 1

    def snapshot(self) -> dict[str, dict[str, dict[str, int]]]:
        """{policy: {client or "<missing>" / "<invalid>": {"allowed": n, "denied": n}}}"""
        with self._lock:
            result: dict[str, dict[str, dict[str, Any]]] = {}
            for (policy, client), counts in sorted(self._counts.items()):
                result.setdefault(policy, {})[client] = dict(counts)
            return result

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
