"""Access log and per-client counters. Neither ever sees a key: only entry names and decisions."""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any, TextIO

access_logger = logging.getLogger("reference_impl.access")


# Not frozen: a frozen dataclass's __init__ costs about a microsecond more, on every request.
@dataclass(slots=True)
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
        # The fields that repeat from request to request (listener, method, host, route, policy) are escaped once
        # and kept as the start of the line; each request escapes only its path, decision and client.
        key = (self.listener, self.method, self.host, self.route, self.policy)
        head = _HEADS.get(key)
        if head is None:
            head = _head(key)
        return head % (
            encode_basestring_ascii(self.path),
            encode_basestring_ascii(self.decision),
            _text(self.client),
            self.status,
            self.duration_ms,
        )

    def __str__(self) -> str:
        return self.as_json()


_HEADS: dict[tuple[int, str, str, str | None, str | None], str] = {}
_MAX_HEADS = 4096  # hosts come from clients: beyond this many, lines are built without keeping their start


def _head(key: tuple[int, str, str, str | None, str | None]) -> str:
    listener, method, host, route, policy = key
    fixed = (
        f'{{"listener":{listener},"method":{encode_basestring_ascii(method)},"host":{encode_basestring_ascii(host)},'
        f'"route":{_text(route)},"policy":{_text(policy)},'
    )
    head = fixed.replace("%", "%%") + '"path":%s,"decision":%s,"client":%s,"status":%d,"duration_ms":%.3f}'
    if len(_HEADS) < _MAX_HEADS:
        _HEADS[key] = head
    return head


def _text(value: str | None) -> str:
    return "null" if value is None else encode_basestring_ascii(value)


class AccessLog:
    """One JSON line per request, never with a key or a query string.

    By default records go to the `reference_impl.access` logger (tests and embedders capture them there). Given a
    stream (the CLI's stderr), records are kept in memory and written in batches by `flush()`: a write per request
    costs more than the whole API key decision.
    """

    # 128 lines (about 30 KB) a write: larger batches made the joined text big enough for the allocator to map and
    # unmap fresh pages on every write, which showed as system time per request.
    def __init__(self, stream: TextIO | None = None, max_pending: int = 128) -> None:
        self.stream = stream
        self.max_pending = max_pending
        self._pending: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, record: AccessRecord) -> None:
        if self.stream is None:
            if access_logger.isEnabledFor(logging.INFO):  # skip the JSON work when nobody listens
                access_logger.info("%s", record)
            return
        # Kept as text, not as records: strings are not tracked by the garbage collector, while records waiting
        # in a list would survive young-generation collections and make the older ones run more often.
        self._pending.append(record.as_json())
        if len(self._pending) >= self.max_pending:
            self.flush()

    def flush(self) -> None:
        if self.stream is None or not self._pending:
            return
        with self._lock:
            lines, self._pending = self._pending, []
            lines.append("")
            self.stream.write("\n".join(lines))
            self.stream.flush()


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

    def replace(self, snapshot: dict[str, dict[str, dict[str, int]]]) -> None:
        """Hold exactly these counts (a supervisor's sum of its workers' snapshots)."""
        with self._lock:
            self._counts.clear()
            for policy, clients in snapshot.items():
                for client, counts in clients.items():
                    self._counts[(policy, client)] = {"allowed": counts["allowed"], "denied": counts["denied"]}
