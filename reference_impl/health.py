"""What /ready and the log say about the gateway's own state: fatal problems and degraded ones."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from reference_impl.compile.snapshot import Snapshot


@dataclass(frozen=True)
class Health:
    """`fatal`: the gateway cannot be trusted to enforce the configuration it was given (/ready answers 503).
    `degraded`: it serves, but something was rejected or fails closed (/ready answers 200 and lists them)."""

    fatal: tuple[str, ...] = ()
    degraded: tuple[str, ...] = ()

    def __add__(self, other: Health) -> Health:
        return Health(self.fatal + other.fatal, self.degraded + other.degraded)


def snapshot_health(snapshot: Snapshot) -> Health:
    fatal = (f"configuration could not be compiled ({snapshot.error}): every listener answers 503",) * bool(
        snapshot.error
    )
    degraded = tuple(
        f"{kind} {ns}/{name} is not accepted ({condition.reason}): {_consequence(condition.reason)}"
        for (kind, ns, name), condition in sorted(snapshot.policy_status.items())
        if condition.status != "True"
    )
    degraded += tuple(
        f"HTTPRoute {ns}/{name}: {condition.type}={condition.status} ({condition.reason})"
        for (ns, name), conditions in snapshot.route_status.items()
        for condition in conditions
    )
    return Health(fatal, degraded)


def _consequence(reason: str) -> str:
    if reason == "TargetNotFound":
        return "it attaches to nothing"
    return "the routes it attaches to answer 500 (fail closed)"


def combined(parts: Iterable[Health]) -> Health:
    total = Health()
    for part in parts:
        total = total + part
    return total


class HealthLog:
    """Logs each problem when it appears and when it clears, so the log says what /ready says, once."""

    def __init__(self, logger: logging.Logger) -> None:
        self.log = logger
        self._seen: set[str] = set()

    def update(self, health: Health) -> None:
        current = {f"fatal: {p}" for p in health.fatal} | {f"degraded: {p}" for p in health.degraded}
        for line in sorted(current - self._seen):
            (self.log.error if line.startswith("fatal") else self.log.warning)(line)
        for line in sorted(self._seen - current):
            self.log.info("resolved: %s", line.split(": ", 1)[1])
        self._seen = current
