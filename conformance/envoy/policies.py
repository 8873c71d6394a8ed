"""TrafficPolicy `apiKeyAuth` -> the typed_per_filter_config kgateway would emit, or its translation error.

Secret selection, credential validation and the error messages are kgateway's control plane, reused from
reference_impl.compile.kgateway; only the Envoy-side shape is built here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reference_impl.compile.inventory import Inventory
from reference_impl.compile.kgateway import Disabled, _selected_secrets, compile_traffic_policy
from reference_impl.compile.status import Condition
from reference_impl.resources import TrafficPolicy
from reference_impl.resources.kgateway import APIKeyAuth

FILTER_NAME = "envoy.filters.http.api_key_auth"
PER_ROUTE_TYPE = "type.googleapis.com/envoy.extensions.filters.http.api_key_auth.v3.ApiKeyAuthPerRoute"
LISTENER_TYPE = "type.googleapis.com/envoy.extensions.filters.http.api_key_auth.v3.ApiKeyAuth"
FILTER_CONFIG_TYPE = "type.googleapis.com/envoy.config.route.v3.FilterConfig"
DEFAULT_KEY_SOURCES: tuple[dict[str, str], ...] = ({"header": "api-key"},)

PolicyKey = tuple[str, str]  # (namespace, name)


@dataclass(frozen=True)
class PolicyOutcome:
    """One TrafficPolicy that sets apiKeyAuth: its per-filter config (None when invalid) and its status."""

    key: PolicyKey
    order: int  # creation order; the oldest wins among policies at one level
    per_filter: dict[str, Any] | None
    error: str | None
    condition: Condition

    @property
    def valid(self) -> bool:
        return self.error is None


def _credentials(policy: TrafficPolicy, auth: APIKeyAuth, inventory: Inventory) -> list[dict[str, str]]:
    """One credential per non-empty entry (client = entry name), values verbatim, sorted as kgateway sorts."""
    found: set[tuple[str, str, str]] = set()
    for secret in _selected_secrets(policy, auth, inventory):
        where = f"{secret.metadata.namespace}/{secret.metadata.name}"
        for client, key in secret.entries().items():
            if key:
                found.add((client, key, where))
    unique: dict[tuple[str, str], None] = {}
    for client, key, _ in sorted(found):
        unique.setdefault((client, key), None)  # the same (client, key) from two Secrets collapses
    return [{"key": key, "client": client} for client, key in unique]


def _key_sources(auth: APIKeyAuth) -> list[dict[str, str]]:
    # Every field of an item is passed through: Envoy itself picks header, else query, else cookie.
    sources = []
    for item in auth.key_sources or ():
        source = {f: v for f, v in (("header", item.header), ("query", item.query), ("cookie", item.cookie)) if v}
        if source:
            sources.append(source)
    return sources or [dict(s) for s in DEFAULT_KEY_SOURCES]


def per_route_config(policy: TrafficPolicy, auth: APIKeyAuth, inventory: Inventory) -> dict[str, Any]:
    forwarding: dict[str, Any] = {"hide_credentials": not auth.forward_credential}
    if auth.client_id_header:
        forwarding["header"] = auth.client_id_header
    return {
        "@type": PER_ROUTE_TYPE,
        "credentials": _credentials(policy, auth, inventory),
        "key_sources": _key_sources(auth),
        "forwarding": forwarding,
    }


def disabled_config() -> dict[str, Any]:
    return {"@type": FILTER_CONFIG_TYPE, "disabled": True}


def policy_outcomes(inventory: Inventory) -> dict[PolicyKey, PolicyOutcome]:
    """Every TrafficPolicy with apiKeyAuth, translated once; policies without it do not concern this filter."""
    outcomes: dict[PolicyKey, PolicyOutcome] = {}
    for order, policy in enumerate(inventory.traffic_policies):
        auth = policy.spec.api_key_auth
        if auth is None:
            continue
        key = (policy.metadata.namespace, policy.metadata.name)
        effect, condition = compile_traffic_policy(policy, inventory)
        if condition.status != "True":
            outcomes[key] = PolicyOutcome(key, order, None, condition.message, condition)
        elif isinstance(effect, Disabled):
            outcomes[key] = PolicyOutcome(key, order, disabled_config(), None, condition)
        else:
            outcomes[key] = PolicyOutcome(key, order, per_route_config(policy, auth, inventory), None, condition)
    return outcomes
