"""Compilation of all resources into one immutable Snapshot that the request path reads without locks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from reference_impl.auth.decision import Deny
from reference_impl.auth.kgateway import DENY_INVALID_POLICY
from reference_impl.compile.agentgateway import compile_agentgateway_policy
from reference_impl.compile.attachment import Attached, most_specific, reaching
from reference_impl.compile.inventory import Inventory
from reference_impl.compile.kgateway import Disabled, compile_traffic_policy
from reference_impl.compile.routes import (
    Candidate,
    ListenerTable,
    Match,
    Rule,
    attached_listeners,
    build_table,
    compile_match,
    effective_hostnames,
)
from reference_impl.compile.status import Condition
from reference_impl.resources import Gateway, HTTPRoute
from reference_impl.resources.gateway_api import Listener, RouteRule

# gatewayClassName -> which policy dialect the class's controller honours.
DEFAULT_GATEWAY_CLASSES: Mapping[str, str] = {"kgateway": "TrafficPolicy", "agentgateway": "AgentgatewayPolicy"}


@dataclass(frozen=True)
class BackendMap:
    """Service name -> base URL. Keys: "name.namespace:port", "name.namespace", "name:port" or "name"."""

    services: Mapping[str, str] = field(default_factory=dict)

    def resolve(self, name: str, namespace: str, port: int | None) -> str | None:
        for key in (f"{name}.{namespace}:{port}", f"{name}.{namespace}", f"{name}:{port}", name):
            url = self.services.get(key)
            if url is not None:
                return url.rstrip("/")
        return None

    @classmethod
    def from_option(cls, value: str | Mapping[str, str] | None) -> BackendMap:
        """A target's `backends` option: "svc=http://host:port,..." or a mapping of the same."""
        if not value:
            return cls()
        if isinstance(value, Mapping):
            return cls.parse([f"{name}={url}" for name, url in value.items()])
        return cls.parse([item.strip() for item in str(value).split(",") if item.strip()])

    @classmethod
    def parse(cls, items: list[str]) -> BackendMap:
        """From CLI-style "name[.namespace][:port]=http://host:port" strings."""
        services = {}
        for item in items:
            key, sep, url = item.partition("=")
            if not sep or not key or not url.startswith(("http://", "https://")):
                raise ValueError(f"backend {item!r}: expected NAME[.NAMESPACE][:PORT]=http://HOST:PORT")
            services[key.strip()] = url.strip()
        return cls(services)


@dataclass(frozen=True)
class Snapshot:
    generation: int
    listeners: Mapping[int, ListenerTable]
    policy_status: Mapping[tuple[str, str, str], Condition]  # (kind, namespace, name) -> Accepted
    gateway_status: Mapping[tuple[str, str], Condition]

    def table(self, port: int) -> ListenerTable | None:
        return self.listeners.get(port)


EMPTY = Snapshot(generation=0, listeners={}, policy_status={}, gateway_status={})


def _compile_policies(inventory: Inventory) -> tuple[list[Attached], dict[tuple[str, str, str], Condition]]:
    attached: list[Attached] = []
    status: dict[tuple[str, str, str], Condition] = {}
    compiled = [(p, *compile_traffic_policy(p, inventory)) for p in inventory.traffic_policies]
    compiled += [(p, *compile_agentgateway_policy(p, inventory)) for p in inventory.agentgateway_policies]
    for policy, effect, condition in compiled:
        ns, name = policy.metadata.namespace, policy.metadata.name
        status[(policy.kind, ns, name)] = condition
        refs = tuple((r.kind, r.name, r.section_name) for r in policy.spec.target_refs or ())
        attached.append(Attached(policy.kind, ns, name, refs, effect))
    return attached, status


def _effective_auth(reached: list[tuple[int, Attached]]) -> tuple[object | None, str | None]:
    # kgateway fails closed: an invalid policy anywhere in the chain replaces the route, never falls back.
    for _, policy in reached:
        if isinstance(policy.effect, Deny):
            return policy.effect, policy.label
    winner = most_specific(reached)
    if winner is None or isinstance(winner.effect, Disabled):
        return None, winner.label if winner else None
    return winner.effect, winner.label


def _backend(rule: RouteRule, route: HTTPRoute, backends: BackendMap) -> tuple[str | None, str | None]:
    refs = [b for b in rule.backend_refs if b.weight > 0]
    if not refs:
        return None, "no backendRefs with weight > 0"
    ref = refs[0]
    if ref.kind != "Service" or ref.group not in ("", "core"):
        return None, f"backend kind {ref.group or 'core'}/{ref.kind} is not supported"
    namespace = ref.namespace or route.metadata.namespace
    url = backends.resolve(ref.name, namespace, ref.port)
    if url is None:
        return None, f"service {namespace}/{ref.name}:{ref.port} has no entry in the backend map"
    return url, None


def compile_snapshot(
    inventory: Inventory,
    *,
    backends: BackendMap,
    generation: int,
    gateway_classes: Mapping[str, str] = DEFAULT_GATEWAY_CLASSES,
) -> Snapshot:
    policies, policy_status = _compile_policies(inventory)
    gateway_status: dict[tuple[str, str], Condition] = {}
    per_port: dict[int, list[tuple[str, tuple, Candidate]]] = {}
    replaced_ports: dict[int, str] = {}

    routes = sorted(
        inventory.routes.values(),
        key=lambda r: (
            inventory.created.get(("HTTPRoute", r.metadata.namespace, r.metadata.name), 0),
            r.metadata.namespace,
            r.metadata.name,
        ),
    )
    for gateway in sorted(inventory.gateways.values(), key=lambda g: (g.metadata.namespace, g.metadata.name)):
        dialect = gateway_classes.get(gateway.spec.gateway_class_name)
        key = (gateway.metadata.namespace, gateway.metadata.name)
        if dialect is None:
            gateway_status[key] = Condition(
                "Accepted",
                "False",
                "InvalidParameters",
                f"gatewayClassName {gateway.spec.gateway_class_name!r} is not served; expected one of "
                f"{', '.join(gateway_classes)}",
            )
            continue
        gateway_status[key] = Condition("Accepted", "True", "Accepted", "Gateway accepted")
        own = [p for p in policies if p.kind == dialect]
        _replace_on_invalid_gateway_policy(gateway, own, replaced_ports)
        for order, route in enumerate(routes):
            for listener in attached_listeners(gateway, route):
                hosts = effective_hostnames(listener, route)
                if hosts is None:
                    continue
                for index, rule in enumerate(route.spec.rules):
                    candidate_rule = _compile_rule(gateway, listener, route, index, rule, own, backends)
                    for match_index, match_spec in enumerate(rule.matches):
                        candidate = Candidate(compile_match(match_spec), candidate_rule)
                        tie = (order, route.metadata.namespace, route.metadata.name, index, match_index)
                        for host in hosts:
                            per_port.setdefault(listener.port, []).append((host, tie, candidate))
        for listener in gateway.spec.listeners:
            per_port.setdefault(listener.port, [])

    tables = {}
    for port, entries in per_port.items():
        if port in replaced_ports:
            tables[port] = _replaced_table(port, replaced_ports[port])
        else:
            tables[port] = build_table(port, entries)
    return Snapshot(generation, tables, policy_status, gateway_status)


def _compile_rule(
    gateway: Gateway,
    listener: Listener,
    route: HTTPRoute,
    index: int,
    rule: RouteRule,
    policies: list[Attached],
    backends: BackendMap,
) -> Rule:
    auth, policy_label = _effective_auth(reaching(policies, gateway, listener, route, rule))
    backend, backend_error = _backend(rule, route, backends)
    modifier = next((f.request_header_modifier for f in rule.filters if f.type == "RequestHeaderModifier"), None)
    return Rule(
        route=f"{route.metadata.namespace}/{route.metadata.name}",
        index=index,
        name=rule.name,
        backend=backend,
        backend_error=backend_error,
        auth=auth,
        policy=policy_label,
        header_modifier=modifier,
    )


def _replace_on_invalid_gateway_policy(gateway: Gateway, policies: list[Attached], replaced: dict[int, str]) -> None:
    """kgateway replaces a listener's whole route table with a 500 when a Gateway- or listener-level policy fails."""
    for policy in policies:
        if policy.effect is not DENY_INVALID_POLICY:
            continue
        for kind, name, section in policy.target_refs:
            if kind != "Gateway" or name != gateway.metadata.name or policy.namespace != gateway.metadata.namespace:
                continue
            for listener in gateway.spec.listeners:
                if section is None or section == listener.name:
                    replaced[listener.port] = policy.label


def _replaced_table(port: int, policy_label: str) -> ListenerTable:
    rule = Rule(
        route="*", index=0, name=None, backend=None, backend_error=None, auth=DENY_INVALID_POLICY, policy=policy_label
    )
    return ListenerTable(port=port, catch_all=(Candidate(Match(None, "", None, (), ()), rule),))
