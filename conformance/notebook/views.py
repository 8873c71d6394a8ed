"""What a notebook cell shows about the gateway: manifests, one request and its response, a policy's status,
per-client counters. Each has a plain-text repr, an HTML rendering, and (for tables) a pandas DataFrame."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import yaml

from conformance.http import Exchange
from conformance.kube.stored import string_data_merged
from conformance.notebook.render import box, esc, frame, pre, redacted, table
from conformance.redact import REDACTOR
from conformance.targets.base import PolicyCondition

Manifests = str | Mapping[str, Any] | Iterable[Mapping[str, Any]]


def as_documents(manifests: Manifests) -> list[dict[str, Any]]:
    if isinstance(manifests, str):
        return [doc for doc in yaml.safe_load_all(manifests) if doc]
    if isinstance(manifests, Mapping):
        return [dict(manifests)]
    return [dict(doc) for doc in manifests if doc]


def to_yaml(documents: Sequence[Mapping[str, Any]]) -> str:
    return yaml.safe_dump_all([dict(d) for d in documents], sort_keys=False, width=120).strip()


def as_stored(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """A manifest as the API server returns it (`kubectl get -o yaml`): a Secret's `stringData` is merged over
    `data`, base64-encoded, and not kept. The encoded values are registered for redaction too."""
    stored = string_data_merged(copy.deepcopy(dict(manifest)))
    if stored.get("kind") == "Secret":
        for value in (stored.get("data") or {}).values():
            REDACTOR.add_literal(str(value))
        stored.setdefault("data", {})
        stored.setdefault("type", "Opaque")
    return stored


@dataclass
class ManifestView:
    """Manifests shown as YAML, keys redacted, under the kubectl command that would print or apply them."""

    manifests: list[dict[str, Any]]
    command: str = ""
    lines: list[str] = field(default_factory=list)  # kubectl's answer, e.g. "secret/apikey created"
    heredoc: bool = False  # the YAML is the command's stdin: `kubectl apply -f - <<EOF ... EOF`

    @property
    def yaml(self) -> str:
        return redacted(to_yaml(self.manifests))

    def _parts(self) -> tuple[str, str, str]:
        command = f"$ {redacted(self.command)}" if self.command else ""
        body = self.yaml + ("\nEOF" if self.heredoc else "")
        return command, body, "\n".join(redacted(line) for line in self.lines)

    def __repr__(self) -> str:
        return "\n".join(part for part in self._parts() if part)

    def _repr_html_(self) -> str:
        command, body, answer = self._parts()
        inner = pre(command, command=True) if command else ""
        inner += pre(body)
        if answer:
            inner += pre(answer)
        return box(inner)


@dataclass
class ResponseView:
    """One request through the gateway: the curl equivalent, status, headers, body and httpbin's echo."""

    exchange: Exchange
    base_url: str
    attempts: int = 1

    @property
    def status(self) -> int:
        return self.exchange.status

    @property
    def headers(self) -> dict[str, str]:
        return self.exchange.headers

    @property
    def body(self) -> str:
        return self.exchange.body

    @property
    def echo(self) -> dict[str, Any] | None:
        return self.exchange.echo

    def header(self, name: str) -> str | None:
        return self.exchange.headers.get(name.lower())

    def json(self) -> Any:
        return json.loads(self.exchange.body)

    def upstream_headers(self) -> dict[str, str] | None:
        """Headers the upstream received (lower-case names), from httpbin's echo."""
        return self.exchange.upstream_headers()

    def upstream_args(self) -> dict[str, Any] | None:
        return self.exchange.upstream_args()

    def upstream_query(self) -> str | None:
        return self.exchange.upstream_query()

    def upstream_cookies(self) -> dict[str, str] | None:
        return self.exchange.upstream_cookies()

    @property
    def curl(self) -> str:
        return redacted(self.exchange.request.curl(self.base_url))

    def headers_frame(self) -> pd.DataFrame:
        return frame(sorted(self.headers.items()), ("header", "value"))

    def _body_text(self) -> str:
        echo = self.echo
        text = redacted(json.dumps(echo, indent=2) if echo is not None else self.body)  # redact, then cut
        return text if len(text) <= 4000 else text[:4000] + "\n..."

    def __repr__(self) -> str:
        lines = [f"$ {self.curl}", f"HTTP {self.status}"]
        lines += [f"{k}: {v}" for k, v in self.headers.items()]
        lines += ["", self._body_text()]
        return redacted("\n".join(lines))

    def _repr_html_(self) -> str:
        css = "ok" if 200 <= self.status < 400 else "bad"
        retry = f' <span class="muted">({self.attempts} attempts)</span>' if self.attempts > 1 else ""
        inner = pre(f"$ {self.curl}", command=True)
        inner += f'<div>HTTP <span class="{css}">{self.status}</span>{retry}</div>'
        inner += f"<details><summary>response headers</summary>{table(self.headers_frame())}</details>"
        inner += pre(self._body_text())
        return box(inner)


@dataclass
class ConditionView:
    """A policy's `Accepted` condition as the implementation reports it (None: not set)."""

    kind: str
    namespace: str
    name: str
    condition: PolicyCondition | None

    @property
    def command(self) -> str:
        return f"kubectl get {self.kind.lower()} {self.name} -n {self.namespace} -o yaml  # .status"

    @property
    def status(self) -> str | None:
        return self.condition.status if self.condition else None

    @property
    def reason(self) -> str | None:
        return self.condition.reason if self.condition else None

    @property
    def message(self) -> str | None:
        return redacted(self.condition.message) if self.condition else None

    @property
    def accepted(self) -> bool:
        return self.status == "True"

    def __repr__(self) -> str:
        if self.condition is None:
            return f"{self.kind} {self.namespace}/{self.name}: no Accepted condition"
        return redacted(
            f"{self.kind} {self.namespace}/{self.name}: {self.condition.type}={self.condition.status} "
            f"reason={self.condition.reason} message={self.condition.message!r}"
        )

    def _repr_html_(self) -> str:
        inner = pre(f"$ {self.command}", command=True)
        if self.condition is None:
            return box(inner + '<div class="muted">no Accepted condition (yet)</div>')
        c = self.condition
        css = "ok" if c.status == "True" else "bad"
        inner += (
            f'<div>{esc(c.type)}=<span class="{css}">{esc(c.status)}</span> reason <code>{esc(c.reason)}</code></div>'
        )
        inner += pre(c.message) if c.message else ""
        return box(inner)


@dataclass
class StatsView:
    """Counters from the gateway's admin interface. Reference: {policy: {client: {allowed, denied}}}."""

    data: dict[str, Any]
    command: str

    def counts(self, client: str, policy: str | None = None) -> dict[str, int]:
        """Allowed / denied for a client, summed over policies (or for one policy, "kind/ns/name")."""
        total = {"allowed": 0, "denied": 0}
        for name, clients in self.data.items():
            if (policy is not None and name != policy) or not isinstance(clients, Mapping):
                continue
            for key in total:
                total[key] += int((clients.get(client) or {}).get(key, 0))
        return total

    def allowed(self, client: str, policy: str | None = None) -> int:
        return self.counts(client, policy)["allowed"]

    def denied(self, client: str, policy: str | None = None) -> int:
        return self.counts(client, policy)["denied"]

    def rows(self) -> list[tuple[str, str, Any, Any]]:
        rows = []
        for policy, clients in self.data.items():
            if isinstance(clients, Mapping):
                rows += [(policy, c, n.get("allowed", 0), n.get("denied", 0)) for c, n in clients.items()]
            else:
                rows.append((policy, "", clients, ""))
        return rows

    def frame(self) -> pd.DataFrame:
        return frame(self.rows(), ("policy / counter", "client", "allowed", "denied"))

    def __repr__(self) -> str:
        lines = [f"$ {self.command}"] + [f"{p}  {c}  allowed={a}  denied={d}" for p, c, a, d in self.rows()]
        return redacted("\n".join(lines))

    def _repr_html_(self) -> str:
        inner = pre(f"$ {self.command}", command=True)
        inner += table(self.frame(), empty="no requests counted yet")
        return box(inner)
