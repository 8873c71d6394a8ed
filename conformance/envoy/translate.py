"""Resources -> Envoy listeners, route configurations and clusters, the way kgateway's translator emits them.

Policy placement follows kgateway: a Gateway-wide policy goes on the RouteConfiguration, a policy on an HTTP
listener (sectionName) on that listener's virtual hosts, HTTPRoute / rule / ExtensionRef policies on each
route. Envoy then uses the most specific per-filter config whole, which is "most specific attachment wins".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from conformance.envoy.policies import (
    FILTER_NAME,
    LISTENER_TYPE,
    PER_ROUTE_TYPE,
    PolicyKey,
    PolicyOutcome,
    policy_outcomes,
)
from conformance.envoy.routes import PortPlan, RouteEntry, VirtualHostPlan, envoy_match, plan_ports
from reference_impl.compile.inventory import Inventory
from reference_impl.compile.snapshot import BackendMap
from reference_impl.compile.status import Condition, accepted
from reference_impl.resources.kgateway import KGATEWAY_GROUP

INVALID_ROUTE_BODY = "invalid route configuration detected and replaced with a direct response."
HCM_TYPE = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
ROUTER_TYPE = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
LISTENER_RESOURCE = "type.googleapis.com/envoy.config.listener.v3.Listener"
ROUTE_RESOURCE = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
CLUSTER_RESOURCE = "type.googleapis.com/envoy.config.cluster.v3.Cluster"

# Service name -> (host, port). Keys tried: "name.namespace:port", "name.namespace", "name:port", "name".


@dataclass(frozen=True)
class EnvoyConfig:
    listeners: list[dict[str, Any]] = field(default_factory=list)
    route_configs: dict[str, dict[str, Any]] = field(default_factory=dict)
    clusters: list[dict[str, Any]] = field(default_factory=list)
    conditions: dict[PolicyKey, Condition] = field(default_factory=dict)
    port_map: dict[int, int] = field(default_factory=dict)  # Gateway listener port -> local port


def cluster_name(name: str, namespace: str, port: int | None) -> str:
    return f"kube_{namespace}_{name}_{port or 0}"


def direct_500() -> dict[str, Any]:
    return {"status": 500, "body": {"inline_string": INVALID_ROUTE_BODY}}


def fallback_vhost(name: str, domain: str) -> dict[str, Any]:
    """kgateway's replacement for a virtual host whose listener- or gateway-level policy failed."""
    return {"name": name, "domains": [domain], "routes": [{"match": {"prefix": "/"}, "direct_response": direct_500()}]}


@dataclass(frozen=True)
class _Attachments:
    """Policies by target, each list oldest first (the first valid one wins within a level)."""

    gateway: dict[tuple[str, str], list[PolicyOutcome]]
    listener: dict[tuple[str, str, str], list[PolicyOutcome]]
    route: dict[tuple[str, str], list[PolicyOutcome]]
    rule: dict[tuple[str, str, str], list[PolicyOutcome]]
    outcomes: dict[PolicyKey, PolicyOutcome]
    existing: frozenset[PolicyKey]  # every TrafficPolicy, with or without apiKeyAuth


def _attachments(inventory: Inventory, outcomes: dict[PolicyKey, PolicyOutcome]) -> _Attachments:
    existing = frozenset((p.metadata.namespace, p.metadata.name) for p in inventory.traffic_policies)
    att = _Attachments({}, {}, {}, {}, outcomes, existing)
    for policy in inventory.traffic_policies:  # already in creation order
        outcome = outcomes.get((policy.metadata.namespace, policy.metadata.name))
        if outcome is None:
            continue
        ns = policy.metadata.namespace
        for ref in policy.spec.target_refs or ():
            if ref.kind == "Gateway":
                if ref.section_name:
                    att.listener.setdefault((ns, ref.name, ref.section_name), []).append(outcome)
                else:
                    att.gateway.setdefault((ns, ref.name), []).append(outcome)
            elif ref.kind == "HTTPRoute":
                if ref.section_name:
                    att.rule.setdefault((ns, ref.name, ref.section_name), []).append(outcome)
                else:
                    att.route.setdefault((ns, ref.name), []).append(outcome)
    return att


def _chain_config(chain: Iterable[PolicyOutcome | None]) -> tuple[bool, dict[str, Any] | None]:
    """(ok, config): the highest-priority config, or not ok if any policy in the chain failed to translate.

    kgateway skips an errored policy in the merge but carries its errors with the result, so the scope is
    replaced rather than silently falling back to a lower-priority policy (fail closed). None in the chain is
    an ExtensionRef to a TrafficPolicy that does not exist.
    """
    chosen: dict[str, Any] | None = None
    for outcome in chain:
        if outcome is None or not outcome.valid:
            return False, None
        if chosen is None:
            chosen = outcome.per_filter
    return True, chosen


def _extension_refs(entry: RouteEntry, att: _Attachments) -> list[PolicyOutcome | None]:
    refs: list[PolicyOutcome | None] = []
    ns = entry.route.metadata.namespace
    for route_filter in entry.rule.filters:
        ref = route_filter.extension_ref
        if route_filter.type != "ExtensionRef" or ref is None:
            continue
        if ref.group != KGATEWAY_GROUP or ref.kind != "TrafficPolicy":
            continue
        key = (ns, ref.name)
        if key in att.outcomes:
            refs.append(att.outcomes[key])
        elif key not in att.existing:
            refs.append(None)  # missing policy: kgateway replaces the route
    return refs


def _route_action(
    entry: RouteEntry, backends: BackendMap, clusters: dict[str, dict[str, Any]]
) -> dict[str, Any] | None:
    refs = [r for r in entry.rule.backend_refs if r.kind == "Service" and r.group in ("", "core")]
    if not refs:
        return None
    ns = entry.route.metadata.namespace
    weighted = []
    for ref in refs:
        ref_ns = ref.namespace or ns
        name = cluster_name(ref.name, ref_ns, ref.port)
        url = backends.resolve(ref.name, ref_ns, ref.port)
        if url is not None:
            parts = urlsplit(url)
            clusters[name] = _cluster(name, parts.hostname or "127.0.0.1", parts.port or 80)
        weighted.append({"name": name, "weight": ref.weight})
    # An unresolved backend points at a cluster that does not exist: Envoy answers 500, as kgateway's blackhole.
    action: dict[str, Any] = {"cluster_not_found_response_code": "INTERNAL_SERVER_ERROR"}
    if len(weighted) == 1:
        action["cluster"] = weighted[0]["name"]
    else:
        action["weighted_clusters"] = {"clusters": [w for w in weighted if w["weight"] > 0] or weighted}
    return action


def _header_mutations(entry: RouteEntry) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for route_filter in entry.rule.filters:
        modifier = route_filter.request_header_modifier
        if route_filter.type != "RequestHeaderModifier" or modifier is None:
            continue
        adds = [
            {"header": {"key": h.name, "value": h.value}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}
            for h in modifier.set
        ] + [
            {"header": {"key": h.name, "value": h.value}, "append_action": "APPEND_IF_EXISTS_OR_ADD"}
            for h in modifier.add
        ]
        if adds:
            out.setdefault("request_headers_to_add", []).extend(adds)
        if modifier.remove:
            out.setdefault("request_headers_to_remove", []).extend(modifier.remove)
    return out


def _route(
    entry: RouteEntry,
    index: int,
    vhost: VirtualHostPlan,
    att: _Attachments,
    backends: BackendMap,
    clusters: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    rule_name = entry.rule.name
    name = f"{vhost.name}-route-{index}" + (f"-{rule_name}" if rule_name else "") + f"-matcher-{entry.match_index}"
    route: dict[str, Any] = {"name": name, "match": envoy_match(entry.match)}
    ns, route_name = entry.route_key
    chain: list[PolicyOutcome | None] = _extension_refs(entry, att)
    if rule_name:
        chain += att.rule.get((ns, route_name, rule_name), [])
    chain += att.route.get((ns, route_name), [])
    ok, per_filter = _chain_config(chain)
    action = _route_action(entry, backends, clusters)
    # A filter the translation does not write is never skipped (Gateway API): the rule answers 500, as the
    # reference gateway's does.
    ok = ok and entry.rule.unsupported_filter() is None
    if not ok or action is None:  # invalid policy, missing ExtensionRef policy, or no backend: replaced
        route["direct_response"] = direct_500()
        return route
    route["route"] = action
    route.update(_header_mutations(entry))
    if per_filter is not None:
        route["typed_per_filter_config"] = {FILTER_NAME: per_filter}
    return route


def _route_configuration(
    plan: PortPlan, att: _Attachments, backends: BackendMap, clusters: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    # With one Gateway on the port (the usual case) its policy sits on the RouteConfiguration, as kgateway
    # does. Several Gateways sharing a local port each keep their policy on their own virtual hosts instead.
    shared = len(plan.gateways) > 1
    config: dict[str, Any] = {"name": route_config_name(plan.port), "ignore_port_in_host_matching": True}
    vhosts: list[dict[str, Any]] = []
    for vhost in plan.vhosts:
        chain = list(att.listener.get((*vhost.gateway, vhost.listener), []))
        if shared:
            chain += att.gateway.get(vhost.gateway, [])
        ok, per_filter = _chain_config(chain)
        if not ok:  # kgateway replaces only this listener's virtual host, keeping its name and domain
            vhosts.append(fallback_vhost(vhost.name, vhost.domain))
            continue
        out: dict[str, Any] = {
            "name": vhost.name,
            "domains": [vhost.domain],
            "routes": [_route(e, i, vhost, att, backends, clusters) for i, e in enumerate(vhost.entries)],
        }
        if per_filter is not None:
            out["typed_per_filter_config"] = {FILTER_NAME: per_filter}
        vhosts.append(out)
    config["virtual_hosts"] = vhosts
    if not shared and plan.gateways:
        ok, per_filter = _chain_config(att.gateway.get(plan.gateways[0], []))
        if not ok:  # a failed Gateway-wide policy replaces the whole RouteConfiguration
            config["virtual_hosts"] = [fallback_vhost("default", "*")]
        elif per_filter is not None:
            config["typed_per_filter_config"] = {FILTER_NAME: per_filter}
    return config


def _uses_filter(node: Any) -> bool:
    """Whether any scope turns the filter on: kgateway adds it to the chain for a policy with keys only, never for
    `disable` alone (handleAPIKeyAuth; observed against kgateway v2.3.6)."""
    if isinstance(node, dict):
        config = node.get("typed_per_filter_config", {}).get(FILTER_NAME) or {}
        return config.get("@type") == PER_ROUTE_TYPE or any(_uses_filter(v) for v in node.values())
    if isinstance(node, list):
        return any(_uses_filter(v) for v in node)
    return False


def route_config_name(port: int) -> str:
    return f"listener~{port}"


def _cluster(name: str, host: str, port: int) -> dict[str, Any]:
    return {
        "@type": CLUSTER_RESOURCE,
        "name": name,
        "type": "STATIC",
        "connect_timeout": "5s",
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [
                {"lb_endpoints": [{"endpoint": {"address": {"socket_address": {"address": host, "port_value": port}}}}]}
            ],
        },
    }


def _listener(port: int, local_port: int, route_config: dict[str, Any], rds_path: str) -> dict[str, Any]:
    filters: list[dict[str, Any]] = []
    if _uses_filter(route_config):
        # Present but disabled, as kgateway adds it: only a per-filter config turns it on for a scope.
        filters.append({"name": FILTER_NAME, "typed_config": {"@type": LISTENER_TYPE}, "disabled": True})
    filters.append(
        {
            "name": "envoy.filters.http.router",
            "typed_config": {
                "@type": ROUTER_TYPE,
                "suppress_envoy_headers": True,  # no x-envoy-* headers that a scenario's upstream echo would show
            },
        }
    )
    hcm = {
        "@type": HCM_TYPE,
        "stat_prefix": f"port_{port}",
        # What kgateway sets on every HTTP connection manager (its irtranslator's initializeHCM); the rest stays
        # at Envoy's defaults, as on a kgateway Gateway.
        "normalize_path": True,
        "merge_slashes": True,
        "use_remote_address": True,
        "rds": {
            "route_config_name": route_config["name"],
            "config_source": {"path_config_source": {"path": rds_path}, "resource_api_version": "V3"},
        },
        "http_filters": filters,
    }
    return {
        "@type": LISTENER_RESOURCE,
        "name": route_config["name"],
        "address": {"socket_address": {"address": "127.0.0.1", "port_value": local_port}},
        "filter_chains": [
            {"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": hcm}]}
        ],
    }


def translate(
    inventory: Inventory,
    *,
    port_map: Mapping[int, int],
    backends: BackendMap,
    rds_path: Mapping[str, str] | str,
    gateway_classes: Iterable[str] = ("kgateway",),
) -> EnvoyConfig:
    """The whole Envoy configuration for the resources. `port_map` must cover every Gateway listener port.

    `rds_path` is the directory holding one RDS file per RouteConfiguration (`<dir>/rds-<port>.json`), or a
    mapping of route configuration name -> file.
    """
    outcomes = policy_outcomes(inventory)
    att = _attachments(inventory, outcomes)
    clusters: dict[str, dict[str, Any]] = {}
    listeners: list[dict[str, Any]] = []
    route_configs: dict[str, dict[str, Any]] = {}
    for port, plan in plan_ports(inventory, gateway_classes).items():
        config = _route_configuration(plan, att, backends, clusters)
        name = config["name"]
        path = rds_path[name] if isinstance(rds_path, Mapping) else f"{rds_path}/rds-{port}.json"
        route_configs[name] = {"@type": ROUTE_RESOURCE, **config}
        listeners.append(_listener(port, port_map[port], config, path))
    return EnvoyConfig(
        listeners=listeners,
        route_configs=route_configs,
        clusters=[clusters[name] for name in sorted(clusters)],
        conditions={
            key: outcomes[key].condition if key in outcomes else accepted()
            for key in ((p.metadata.namespace, p.metadata.name) for p in inventory.traffic_policies)
        },
        port_map=dict(port_map),
    )


def listener_ports(inventory: Inventory, gateway_classes: Iterable[str] = ("kgateway",)) -> list[int]:
    """The Gateway listener ports the translation will need local ports for."""
    return sorted(plan_ports(inventory, gateway_classes))
