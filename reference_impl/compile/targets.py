"""Whether a policy's targetRefs name objects that exist: the controllers report a policy that reaches nothing."""

from __future__ import annotations

from reference_impl.compile.inventory import Inventory
from reference_impl.compile.status import Condition
from reference_impl.resources import AgentgatewayPolicy, TrafficPolicy
from reference_impl.resources.gateway_api import GATEWAY_GROUP


def _target_problem(kind: str, group: str, name: str, section: str | None, namespace: str, inventory: Inventory) -> str:
    """Why one targetRef reaches nothing, or "" when it resolves."""
    if group != GATEWAY_GROUP:
        return f"{group}/{kind} {namespace}/{name} is not a kind this gateway attaches policies to"
    if kind == "Gateway":
        gateway = inventory.gateways.get((namespace, name))
        if gateway is None:
            return f"Gateway {namespace}/{name} not found"
        if section is not None and section not in {listener.name for listener in gateway.spec.listeners}:
            return f"Gateway {namespace}/{name} has no listener named {section}"
        return ""
    if kind == "HTTPRoute":
        route = inventory.routes.get((namespace, name))
        if route is None:
            return f"HTTPRoute {namespace}/{name} not found"
        if section is not None and section not in {rule.name for rule in route.spec.rules}:
            return f"HTTPRoute {namespace}/{name} has no rule named {section}"
        return ""
    return f"{kind} {namespace}/{name} is not a kind this gateway serves"


def with_target_status(
    policy: TrafficPolicy | AgentgatewayPolicy, inventory: Inventory, condition: Condition
) -> Condition:
    """An accepted policy none of whose targetRefs resolve gets Accepted=False, TargetNotFound (GEP-713), so a
    typo in a target never looks like protection. A policy that attaches only by ExtensionRef has no targetRefs."""
    refs = policy.spec.target_refs or []
    if condition.status != "True" or not refs:
        return condition
    namespace = policy.metadata.namespace
    problems = [_target_problem(r.kind, r.group, r.name, r.section_name, namespace, inventory) for r in refs]
    if all(problems):
        return Condition("Accepted", "False", "TargetNotFound", "; ".join(problems))
    return condition
