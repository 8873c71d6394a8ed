"""What a differential run compares: a generated case, and what one target did with one of its requests."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from conformance.differential.echo import ECHO_HEADER
from conformance.http import Exchange, RequestSpec

#: Headers a proxy adds or rewrites on its own (tracing, forwarding, framing): they say nothing about API key
#: auth and differ between any two gateways, so they are left out of "what the upstream saw".
PROXY_HEADERS = frozenset(
    {
        "connection",
        "content-length",
        "forwarded",
        "keep-alive",
        "proxy-connection",
        "te",
        "transfer-encoding",
        "via",
        "x-forwarded-for",
        "x-forwarded-host",
        "x-forwarded-port",
        "x-forwarded-proto",
        "x-real-ip",
        "x-request-id",
    }
)
PROXY_HEADER_PREFIXES = ("x-envoy-",)


def proxy_header(name: str) -> bool:
    return name in PROXY_HEADERS or name.startswith(PROXY_HEADER_PREFIXES)


@dataclass(frozen=True)
class Case:
    """One generated world (manifests applied on top of the profile's Gateway and route) and its requests."""

    profile: str
    manifests: tuple[dict[str, Any], ...]
    requests: tuple[RequestSpec, ...]

    def keys(self) -> list[str]:
        """Every key value the case's Secrets hold (raw entries and JSON `key` fields), for redaction."""
        found = []
        for manifest in self.manifests:
            if manifest.get("kind") != "Secret":
                continue
            for value in (manifest.get("stringData") or {}).values():
                found.append(str(value))
                if str(value).startswith("{"):
                    found.append(str(json.loads(value).get("key") or ""))
        return [k for k in found if k]

    def fingerprint(self) -> str:
        """A stable text of the whole case: equal cases are compared once."""
        return json.dumps(
            {"manifests": list(self.manifests), "requests": [request_dict(r) for r in self.requests]},
            sort_keys=True,
        )


def request_dict(request: RequestSpec) -> dict[str, Any]:
    return {
        "method": request.method,
        "path": request.path,
        "headers": [list(h) for h in request.headers],
        "query": [list(q) for q in request.query],
        "cookies": [list(c) for c in request.cookies],
    }


@dataclass(frozen=True)
class Upstream:
    """The request as the upstream received it: request line and headers (proxy headers left out)."""

    method: str
    path: str
    query: str | None  # the raw query string as sent, None when the target has no '?'
    headers: tuple[tuple[str, tuple[str, ...]], ...]  # lower-case name -> values in arrival order, sorted by name

    def header(self, name: str) -> tuple[str, ...]:
        return dict(self.headers).get(name, ())


@dataclass(frozen=True)
class Observation:
    """What one target did with one request."""

    status: int
    content_type: str | None
    body: str | None  # the gateway's own body; None when the upstream answered
    upstream: Upstream | None  # None when the request never reached the upstream
    error: str | None = None  # no HTTP answer at all

    @classmethod
    def from_response(cls, status: int, headers: Iterable[tuple[str, str]], body: bytes) -> Observation:
        lowered = [(k.lower(), v) for k, v in headers]
        content_type = next((v for k, v in lowered if k == "content-type"), None)
        if any(k == ECHO_HEADER for k, _ in lowered):
            return cls(status, content_type, None, upstream_from_echo(json.loads(body)))
        text = body.decode("utf-8", "replace")
        upstream = upstream_from_httpbin(Exchange(RequestSpec(), "", status, dict(lowered), text))
        return cls(status, content_type, None if upstream else text, upstream)

    @classmethod
    def failure(cls, error: str) -> Observation:
        return cls(0, None, None, None, error)


def upstream_from_echo(document: dict[str, Any]) -> Upstream:
    method, target, _version = str(document["requestLine"]).split(" ", 2)
    path, sep, query = target.partition("?")
    values: dict[str, list[str]] = {}
    for name, value in document["headers"]:
        name = str(name).lower()
        if not proxy_header(name):
            values.setdefault(name, []).append(str(value))
    return Upstream(method, path, query if sep else None, tuple((k, tuple(v)) for k, v in sorted(values.items())))


def upstream_from_httpbin(exchange: Exchange) -> Upstream | None:
    """httpbin's `/anything` echo (targets whose upstream cannot be the raw echo, e.g. a cluster's httpbin):
    headers with repeated values joined, and the parsed `args` written back sorted in place of the raw query."""
    echo = exchange.echo
    headers, args = exchange.upstream_headers(), exchange.upstream_args()
    if echo is None or headers is None or args is None or "url" not in echo:
        return None
    pairs = [(k, v) for k in sorted(args) for v in (args[k] if isinstance(args[k], list) else [args[k]])]
    query = "&".join(f"{k}={v}" for k, v in pairs) or None
    kept = tuple((k, (v,)) for k, v in sorted(headers.items()) if not proxy_header(k))
    return Upstream(str(echo.get("method", "GET")), urlsplit(str(echo["url"])).path, query, kept)


@dataclass(frozen=True)
class Difference:
    """One aspect in which two observations of the same request differ."""

    aspect: str  # status, content-type, body, forwarded, answer, upstream method/path/query/header, policy status
    a: str
    b: str
    name: str = ""  # the header's name, for an upstream header; `<Kind> <namespace>/<name>` for a policy status
    baseline: PolicyStatus | None = None  # for a policy status: what `b` reported


@dataclass(frozen=True)
class PolicyStatus:
    """A policy's `Accepted` condition as a target reports it (None parts: it reports none)."""

    status: str
    reason: str
    message: str

    def __str__(self) -> str:
        return f"Accepted={self.status} reason {self.reason}: {self.message}"


NO_CONDITION = "no Accepted condition"


@dataclass
class RequestOutcome:
    """One request of a case on both targets, and how they differed."""

    request: RequestSpec
    a: Observation
    b: Observation
    differences: list[Difference] = field(default_factory=list)
    known: dict[str, list[Difference]] = field(default_factory=dict)  # known divergence id -> what it explains

    @property
    def unexplained(self) -> list[Difference]:
        explained = {id(d) for found in self.known.values() for d in found}
        return [d for d in self.differences if id(d) not in explained]
