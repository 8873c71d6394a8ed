"""Policy attachment: which policy governs a route rule on a listener. The most specific level wins whole."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from reference_impl.resources import Gateway, HTTPRoute
from reference_impl.resources.gateway_api import Listener, RouteRule

# Levels, least to most specific. kgateway and agentgateway agree on this order. kgateway ranks a rule's
# ExtensionRef filter above a targetRef to the same rule (its route plugins run ExtensionRefs first).
GATEWAY, LISTENER, ROUTE, RULE, EXTENSION_REF = range(5)


@dataclass(frozen=True, slots=True)
class Attached:
    """A compiled policy and where it may attach."""

    kind: str  # TrafficPolicy | AgentgatewayPolicy
    namespace: str
    name: str
    target_refs: tuple[tuple[str, str, str | None], ...]  # (kind, name, sectionName)
    effect: Any  # compiled effect, or None when the policy has no API key part

    @property
    def label(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"


def level_of(
    policy: Attached,
    gateway: Gateway,
    listener: Listener,
    route: HTTPRoute,
    rule: RouteRule,
    extension_refs: Iterable[str],
) -> int | None:
    """The most specific level at which `policy` reaches this rule, or None if it does not."""
    best: int | None = None
    if (
        policy.kind == "TrafficPolicy"
        and policy.namespace == route.metadata.namespace
        and policy.name in extension_refs
    ):
        return EXTENSION_REF
    for kind, name, section in policy.target_refs:
        level = None
        if kind == "Gateway" and policy.namespace == gateway.metadata.namespace and name == gateway.metadata.name:
            if section is None:
                level = GATEWAY
            elif section == listener.name:
                level = LISTENER
        elif kind == "HTTPRoute" and policy.namespace == route.metadata.namespace and name == route.metadata.name:
            if section is None:
                level = ROUTE
            elif section == rule.name:
                level = RULE
        if level is not None and (best is None or level > best):
            best = level
    return best


def reaching(
    policies: Iterable[Attached],
    gateway: Gateway,
    listener: Listener,
    route: HTTPRoute,
    rule: RouteRule,
    extension_refs: Iterable[str] = (),
) -> list[tuple[int, Attached]]:
    """(level, policy) for every policy with an API key part that reaches this rule, in policy order.

    `extension_refs` are the names of the TrafficPolicies the rule's ExtensionRef filters resolved to.
    """
    extension_refs = list(extension_refs)
    found = []
    for policy in policies:
        if policy.effect is None:
            continue
        level = level_of(policy, gateway, listener, route, rule, extension_refs)
        if level is not None:
            found.append((level, policy))
    return found


def most_specific(reached: list[tuple[int, Attached]]) -> Attached | None:
    """The winner: highest level; within a level, the first in policy order (oldest, then by name)."""
    best: tuple[int, Attached] | None = None
    for level, policy in reached:
        if best is None or level > best[0]:
            best = (level, policy)
    return best[1] if best else None
