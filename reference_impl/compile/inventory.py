"""A read-only view of the stored resources, indexed the ways compilation needs."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from reference_impl.resources import (
    AgentgatewayPolicy,
    ConfigMap,
    Gateway,
    HTTPRoute,
    ReferenceGrant,
    Resource,
    Secret,
    TrafficPolicy,
)


@dataclass(frozen=True)
class Inventory:
    secrets: dict[tuple[str, str], Secret] = field(default_factory=dict)
    config_maps: dict[tuple[str, str], ConfigMap] = field(default_factory=dict)
    gateways: dict[tuple[str, str], Gateway] = field(default_factory=dict)
    routes: dict[tuple[str, str], HTTPRoute] = field(default_factory=dict)
    grants: tuple[ReferenceGrant, ...] = ()
    traffic_policies: tuple[TrafficPolicy, ...] = ()
    agentgateway_policies: tuple[AgentgatewayPolicy, ...] = ()
    # Order of first creation, for "oldest wins" ties as Kubernetes controllers break them.
    created: dict[tuple[str, str, str], int] = field(default_factory=dict)

    @classmethod
    def of(cls, resources: Iterable[Resource], created: dict[tuple[str, str, str], int]) -> Inventory:
        by_kind: dict[str, list[Resource]] = {}
        for resource in resources:
            by_kind.setdefault(resource.kind, []).append(resource)

        def keyed(kind: str) -> dict:
            return {(r.metadata.namespace, r.metadata.name): r for r in by_kind.get(kind, [])}

        def ordered(kind: str) -> tuple:
            items = by_kind.get(kind, [])
            return tuple(sorted(items, key=lambda r: (created.get((kind, *_nn(r)), 0), *_nn(r))))

        return cls(
            secrets=keyed("Secret"),
            config_maps=keyed("ConfigMap"),
            gateways=keyed("Gateway"),
            routes=keyed("HTTPRoute"),
            grants=ordered("ReferenceGrant"),
            traffic_policies=ordered("TrafficPolicy"),
            agentgateway_policies=ordered("AgentgatewayPolicy"),
            created=dict(created),
        )

    def granted(self, *, from_group: str, from_kind: str, from_namespace: str, to_namespace: str, to_name: str) -> bool:
        """Whether a ReferenceGrant in `to_namespace` lets the source reference Secret `to_name`."""
        return any(
            grant.metadata.namespace == to_namespace
            and grant.allows(
                from_group=from_group,
                from_kind=from_kind,
                from_namespace=from_namespace,
                to_kind="Secret",
                to_name=to_name,
            )
            for grant in self.grants
        )


def _nn(resource: Resource) -> tuple[str, str]:
    return (resource.metadata.namespace, resource.metadata.name)
