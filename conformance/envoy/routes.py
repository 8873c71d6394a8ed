"""Gateway API -> the shape of kgateway's Envoy route tables: ports, virtual hosts and ordered route entries.

Written from the Gateway API spec and kgateway's translator, independently of the reference gateway:
one RouteConfiguration per port, one virtual host per (listener, hostname), one Envoy route per rule match,
sorted by Gateway API match precedence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from reference_impl.compile.inventory import Inventory
from reference_impl.resources import Gateway, HTTPRoute
from reference_impl.resources.gateway_api import GATEWAY_GROUP, Listener, RouteMatch, RouteRule

NamespacedName = tuple[str, str]
# kgateway uses path_separated_prefix when the prefix cannot be misread: no '?' or '#', not ending in '/'.
_SEPARATED_PREFIX = re.compile(r"^[^?#]+[^?#/]$")


@dataclass(frozen=True)
class RouteEntry:
    """One match of one HTTPRoute rule: an Envoy route."""

    route: HTTPRoute
    route_order: int
    rule_index: int
    match_index: int
    match: RouteMatch

    @property
    def route_key(self) -> NamespacedName:
        return (self.route.metadata.namespace, self.route.metadata.name)

    @property
    def rule(self) -> RouteRule:
        return self.route.spec.rules[self.rule_index]

    def precedence(self) -> tuple[Any, ...]:
        """Gateway API order: exact path, longer prefix, method, more headers, more query params, older route."""
        path = self.match.path
        return (
            0 if path.type == "Exact" else 1,
            -len(path.value),
            0 if self.match.method else 1,
            -len(self.match.headers),
            -len(self.match.query_params),
            self.route_order,
            self.route_key,
            self.rule_index,
            self.match_index,
        )


@dataclass
class VirtualHostPlan:
    name: str
    domain: str
    gateway: NamespacedName
    listener: str
    entries: list[RouteEntry] = field(default_factory=list)


@dataclass
class PortPlan:
    port: int
    gateways: list[NamespacedName] = field(default_factory=list)
    vhosts: list[VirtualHostPlan] = field(default_factory=list)


def intersect_hostnames(listener_host: str | None, route_host: str) -> str | None:
    """The hostname both match, or None. `*.x` matches any name ending in `.x` (one or more labels)."""
    if listener_host is None or listener_host == route_host:
        return route_host
    listener_wild, route_wild = listener_host.startswith("*."), route_host.startswith("*.")
    if listener_wild and route_host.endswith(listener_host[1:]):
        return route_host
    if route_wild and listener_host.endswith(route_host[1:]):
        return listener_host
    return None


def _attaches(route: HTTPRoute, gateway: Gateway, listener: Listener) -> bool:
    gw_ns, gw_name = gateway.metadata.namespace, gateway.metadata.name
    route_ns = route.metadata.namespace
    allowed = listener.allowed_routes.namespaces.from_
    if allowed == "Selector" or (allowed == "Same" and route_ns != gw_ns):  # no Namespace objects to select
        return False
    for ref in route.spec.parent_refs:
        if ref.group != GATEWAY_GROUP or ref.kind != "Gateway" or ref.name != gw_name:
            continue
        if (ref.namespace or route_ns) != gw_ns:
            continue
        if ref.section_name not in (None, listener.name) or ref.port not in (None, listener.port):
            continue
        return True
    return False


def _route_domains(route: HTTPRoute, listener: Listener) -> list[str]:
    if not route.spec.hostnames:
        return [listener.hostname or "*"]
    found = (intersect_hostnames(listener.hostname, h) for h in route.spec.hostnames)
    return list(dict.fromkeys(h for h in found if h is not None))


def _listener_specificity(item: tuple[int, Gateway, int, Listener]) -> tuple[Any, ...]:
    # More specific listeners claim a hostname first, as Gateway API's listener isolation asks.
    gateway_order, _, index, listener = item
    host = listener.hostname
    rank = 2 if host is None else (1 if host.startswith("*.") else 0)
    return (rank, -len(host or ""), gateway_order, index)


def _vhost_name(gateway: Gateway, listener: Listener, domain: str) -> str:
    return f"{gateway.metadata.namespace}_{gateway.metadata.name}~{listener.name}~{domain.replace('*', '_')}"


def plan_ports(inventory: Inventory, gateway_classes: Iterable[str]) -> dict[int, PortPlan]:
    """Every Gateway listener of an accepted class, grouped by port, with its virtual hosts and routes."""
    classes = set(gateway_classes)
    order = inventory.created
    gateways = sorted(
        (g for g in inventory.gateways.values() if g.spec.gateway_class_name in classes),
        key=lambda g: (
            order.get(("Gateway", g.metadata.namespace, g.metadata.name), 0),
            g.metadata.namespace,
            g.metadata.name,
        ),
    )
    routes = sorted(
        inventory.routes.values(),
        key=lambda r: (
            order.get(("HTTPRoute", r.metadata.namespace, r.metadata.name), 0),
            r.metadata.namespace,
            r.metadata.name,
        ),
    )
    by_port: dict[int, list[tuple[int, Gateway, int, Listener]]] = {}
    for gateway_order, gateway in enumerate(gateways):
        for index, listener in enumerate(gateway.spec.listeners):
            if listener.protocol == "HTTP":  # no TLS material here: HTTPS listeners are not served
                by_port.setdefault(listener.port, []).append((gateway_order, gateway, index, listener))

    plans: dict[int, PortPlan] = {}
    for port, items in sorted(by_port.items()):
        plan = PortPlan(port)
        claimed: set[str] = set()
        for _, gateway, _, listener in sorted(items, key=_listener_specificity):
            gw_key = (gateway.metadata.namespace, gateway.metadata.name)
            if gw_key not in plan.gateways:
                plan.gateways.append(gw_key)
            hosts: dict[str, VirtualHostPlan] = {}
            for route_order, route in enumerate(routes):
                # A match type the translation does not write is left out whole, as the reference gateway does.
                if not _attaches(route, gateway, listener) or route.spec.unsupported_match() is not None:
                    continue
                for domain in _route_domains(route, listener):
                    if domain in claimed:  # a more specific listener on this port already serves it
                        continue
                    vhost = hosts.setdefault(
                        domain, VirtualHostPlan(_vhost_name(gateway, listener, domain), domain, gw_key, listener.name)
                    )
                    for rule_index, rule in enumerate(route.spec.rules):
                        for match_index, match in enumerate(rule.matches):
                            vhost.entries.append(RouteEntry(route, route_order, rule_index, match_index, match))
            for vhost in hosts.values():
                vhost.entries.sort(key=RouteEntry.precedence)
                plan.vhosts.append(vhost)
            claimed.update(hosts)
        plans[port] = plan
    return plans


def envoy_match(match: RouteMatch) -> dict[str, Any]:
    """A Gateway API match as an Envoy RouteMatch, as kgateway writes it."""
    out: dict[str, Any] = {}
    path = match.path
    if path.type == "Exact":
        out["path"] = path.value
    elif _SEPARATED_PREFIX.match(path.value):
        out["path_separated_prefix"] = path.value
    else:
        out["prefix"] = path.value
    headers = [
        {"name": h.name, "string_match": {"exact": h.value}} if h.value else {"name": h.name, "present_match": True}
        for h in match.headers
    ]
    if match.method:
        headers.append({"name": ":method", "string_match": {"exact": match.method}})
    if headers:
        out["headers"] = headers
    if match.query_params:
        out["query_parameters"] = [
            {"name": q.name, "string_match": {"exact": q.value}} if q.value else {"name": q.name, "present_match": True}
            for q in match.query_params
        ]
    return out
