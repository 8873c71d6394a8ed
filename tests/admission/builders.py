"""Small manifest builders for the admission tests."""

from __future__ import annotations

from typing import Any

GATEWAY_TARGET = {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "gw"}
ROUTE_TARGET = {"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": "route"}
UNCHECKED = (
    "<nil>: Invalid value: null: some validation rules were not checked because the object was invalid; "
    "correct the existing errors to complete validation"
)


def traffic_policy(api_key_auth: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    spec.setdefault("targetRefs", [GATEWAY_TARGET])
    if api_key_auth is not None:
        spec["apiKeyAuth"] = api_key_auth
    return {
        "apiVersion": "gateway.kgateway.dev/v1alpha1",
        "kind": "TrafficPolicy",
        "metadata": {"name": "p", "namespace": "default"},
        "spec": spec,
    }


def agentgateway_policy(authentication: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    if "targetSelectors" not in spec:
        spec.setdefault("targetRefs", [GATEWAY_TARGET])
    spec["traffic"] = {"apiKeyAuthentication": authentication or {"secretRef": {"name": "keys"}}}
    return {
        "apiVersion": "agentgateway.dev/v1alpha1",
        "kind": "AgentgatewayPolicy",
        "metadata": {"name": "p", "namespace": "default"},
        "spec": spec,
    }


def secret(name: str = "keys", **fields: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": "default"}, **fields}
