"""Two observations of one request -> the aspects in which they differ, and a signature that groups them."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from conformance.differential.model import NO_CONDITION, Case, Difference, Observation, PolicyStatus
from conformance.envoy import projection

NONE = "(none)"


def _text(values: Iterable[str] | None) -> str:
    values = list(values or ())
    return NONE if not values else " | ".join(values)


def differences(a: Observation, b: Observation) -> list[Difference]:
    found: list[Difference] = []
    if a.error or b.error:
        if a.error != b.error:
            found.append(Difference("answer", a.error or f"status {a.status}", b.error or f"status {b.status}"))
        return found
    if a.status != b.status:
        found.append(Difference("status", str(a.status), str(b.status)))
    if a.content_type != b.content_type:
        found.append(Difference("content-type", a.content_type or NONE, b.content_type or NONE))
    if (a.upstream is None) != (b.upstream is None):
        found.append(Difference("forwarded", str(a.upstream is not None).lower(), str(b.upstream is not None).lower()))
        return found  # one answered itself, the other forwarded: the rest follows from that
    if a.upstream is None or b.upstream is None:
        if a.body != b.body:
            found.append(Difference("body", a.body or "", b.body or ""))
        return found
    ua, ub = a.upstream, b.upstream
    if ua.method != ub.method:
        found.append(Difference("upstream method", ua.method, ub.method))
    if ua.path != ub.path:
        found.append(Difference("upstream path", ua.path, ub.path))
    if ua.query != ub.query:
        found.append(Difference("upstream query", _query_text(ua.query), _query_text(ub.query)))
    names = sorted({name for name, _ in ua.headers} | {name for name, _ in ub.headers})
    for name in names:
        if ua.header(name) != ub.header(name):
            found.append(Difference("upstream header", _text(ua.header(name)), _text(ub.header(name)), name))
    return found


def status_differences(a: Mapping[str, PolicyStatus | None], b: Mapping[str, PolicyStatus | None]) -> list[Difference]:
    """The policies (`<Kind> <namespace>/<name>`) whose Accepted condition differs: status, reason or message."""
    found = []
    for policy in sorted(set(a) | set(b)):
        left, right = a.get(policy), b.get(policy)
        if left != right:
            text_a, text_b = (str(s) if s is not None else NO_CONDITION for s in (left, right))
            found.append(Difference("policy status", text_a, text_b, policy, right))
    return found


def config_differences(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[Difference]:
    """Where two Envoys' projected configurations differ (conformance/envoy/projection.py), by path."""
    return [
        Difference("envoy config", _json(x), _json(y), path) for path, x, y in projection.differences(dict(a), dict(b))
    ]


def _json(value: Any) -> str:
    return NONE if value is None else json.dumps(value, sort_keys=True)


def _query_text(query: str | None) -> str:
    return NONE if query is None else query


def header_roles(case: Case) -> dict[str, str]:
    """What each header name is in this case's policies: a key source, an identity header, or something else."""
    roles: dict[str, str] = {}
    for manifest in case.manifests:
        spec = manifest.get("spec") or {}
        auth = spec.get("apiKeyAuth") or (spec.get("traffic") or {}).get("apiKeyAuthentication") or {}
        sources = auth.get("keySources") or ([{"header": "api-key"}] if manifest.get("kind") == "TrafficPolicy" else [])
        location = auth.get("location") or ({"header": {"name": "authorization"}} if auth else {})
        for name in [s["header"] for s in sources if "header" in s] + [(location.get("header") or {}).get("name")]:
            if name:
                roles.setdefault(name.lower(), "key source")
        if auth.get("clientIdHeader"):
            roles[auth["clientIdHeader"].lower()] = "identity"  # the identity role wins: it is set, not read
    roles.setdefault("cookie", "cookie")
    return roles


def signature(case: Case, found: Iterable[Difference]) -> tuple[str, ...]:
    """Differences of one kind share a signature, whatever the generated names and values: a status pair, the
    aspect, and for a header the role its name plays in the case."""
    roles = header_roles(case)
    parts = set()
    for difference in found:
        if difference.aspect == "status":
            parts.add(f"status {difference.a}/{difference.b}")
        elif difference.aspect == "upstream header":
            parts.add(f"upstream header ({roles.get(difference.name, 'other')})")
        else:
            parts.add(difference.aspect)
    return tuple(sorted(parts))
