"""What the generated worlds of both dialects share: the host, the route with its named rules, where a policy
attaches, and how generated keys are shared out among Secrets."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

HOST = "www.example.com"
LISTENER = "http"
#: (rule name, path prefix, a request path it matches); the last rule catches everything else.
RULES = (
    ("rule-a", "/anything/a", "/anything/a"),
    ("rule-b", "/anything/b", "/anything/b"),
    ("rest", "/", "/anything/c"),
)
#: Requests aim at each rule, inside a rule's prefix, and just outside it (`/anything/ab` is not under `/anything/a`).
PATHS = (*(path for _, _, path in RULES), "/anything/a/x", "/anything/ab")


def target_ref(level: str, gateway: str) -> dict[str, Any]:
    """A targetRef for a level: `gateway`, `listener` (its sectionName), `route`, or `rule-a` / `rule-b`."""
    if level in ("gateway", "listener"):
        ref: dict[str, Any] = {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": gateway}
        if level == "listener":
            ref["sectionName"] = LISTENER
        return ref
    ref = {"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": "httpbin"}
    if level.startswith("rule-"):
        ref["sectionName"] = level
    return ref


def route(namespace: str, gateway: str, filters: dict[str, list[dict[str, Any]]] | None = None) -> dict[str, Any]:
    """The HTTPRoute `httpbin` with the named rules, each to Service httpbin; `filters` by rule name."""
    rules = []
    for name, prefix, _ in RULES:
        rule: dict[str, Any] = {
            "name": name,
            "matches": [{"path": {"type": "PathPrefix", "value": prefix}}],
            "backendRefs": [{"name": "httpbin", "port": 8000}],
        }
        if filters and name in filters:
            rule["filters"] = filters[name]
        rules.append(rule)
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "httpbin", "namespace": namespace},
        "spec": {"parentRefs": [{"name": gateway}], "hostnames": [HOST], "rules": rules},
    }


def share_out(draw: st.DrawFn, values: list[str], count: int) -> list[list[str]]:
    """`values` in order, split into `count` groups of one to three (every group gets at least one)."""
    groups, position = [], 0
    for index in range(count):
        remaining = len(values) - position - (count - index - 1)
        take = draw(st.integers(1, min(3, remaining)))
        groups.append(values[position : position + take])
        position += take
    return groups


def store(kind: str, namespace: str, index: int, entries: dict[str, str]) -> dict[str, Any]:
    """Secret (entries as stringData) or ConfigMap (as data) `keys-N`, labelled set a / b alternately."""
    return {
        "apiVersion": "v1",
        "kind": kind,
        "metadata": {"name": f"keys-{index + 1}", "namespace": namespace, "labels": {"set": "ab"[index % 2]}},
        ("stringData" if kind == "Secret" else "data"): entries,
    }
