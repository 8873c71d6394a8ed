"""What two Envoys hold for API key auth, in a form that can be compared: the part of an admin `/config_dump` that
decides who gets through, without what only says where things run.

Kept: per RouteConfiguration, its listener's HTTP filter chain and connection-manager flags; its own, each virtual
host's (by domains) and each route's (in order, by match) `envoy.filters.http.api_key_auth` config, the route's
action (cluster, or the direct response that replaces an invalid route) and header changes. Dropped: names of
virtual hosts and routes, metadata, addresses and ports, stat prefixes, how RDS is fetched, and clusters
(endpoints differ by construction). Envoy redacts API key credentials in its dump (they are `sensitive`), so a
config holds how many credentials it has, never a key or a client name.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

FILTER = "envoy.filters.http.api_key_auth"
HCM_FLAGS = ("normalize_path", "merge_slashes", "use_remote_address", "path_with_escaped_slashes_action")
ROUTE_FIELDS = ("route", "direct_response", "redirect", "request_headers_to_add", "request_headers_to_remove")


def _configs(dump: dict[str, Any], kind: str) -> Iterator[dict[str, Any]]:
    for config in dump.get("configs", []):
        if str(config.get("@type", "")).endswith(kind):
            yield config


def _filter_config(config: dict[str, Any] | None) -> dict[str, Any] | None:
    if config is None:
        return None
    out = {k: v for k, v in config.items() if k != "credentials"}
    if "credentials" in config:
        out["credentials"] = len(config["credentials"])  # redacted by Envoy: only their number is comparable
    return out


def _per_filter(node: dict[str, Any]) -> dict[str, Any] | None:
    return _filter_config((node.get("typed_per_filter_config") or {}).get(FILTER))


def _route(route: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"match": route.get("match", {})}
    out.update({k: route[k] for k in ROUTE_FIELDS if k in route})
    auth = _per_filter(route)
    if auth is not None:
        out[FILTER] = auth
    return out


def route_configuration(config: dict[str, Any]) -> dict[str, Any]:
    hosts = {}
    for vhost in config.get("virtual_hosts", []):
        entry: dict[str, Any] = {"routes": [_route(r) for r in vhost.get("routes", [])]}
        auth = _per_filter(vhost)
        if auth is not None:
            entry[FILTER] = auth
        hosts[",".join(sorted(vhost.get("domains", [])))] = entry
    out: dict[str, Any] = {"virtual_hosts": dict(sorted(hosts.items()))}
    auth = _per_filter(config)
    if auth is not None:
        out[FILTER] = auth
    return out


def _connection_manager(listener: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """(the RouteConfiguration it reads, its comparable part) of a listener's HTTP connection manager."""
    for chain in listener.get("filter_chains", []):
        for network_filter in chain.get("filters", []):
            hcm = network_filter.get("typed_config", {})
            if "http_filters" not in hcm:
                continue
            filters = [
                {
                    "name": f.get("name"),
                    "type": (f.get("typed_config") or {}).get("@type"),
                    **({"disabled": True} if f.get("disabled") else {}),
                    **({"config": _filter_config(f["typed_config"])} if f.get("name") == FILTER else {}),
                }
                for f in hcm["http_filters"]
            ]
            flags = {k: hcm[k] for k in HCM_FLAGS if k in hcm}
            return (hcm.get("rds") or {}).get("route_config_name"), {"http_filters": filters, **flags}
    return None, {}


def project(dump: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """RouteConfiguration name -> its listener's filter chain and flags, and its API key auth configuration."""
    routes = {
        c["route_config"]["name"]: c["route_config"]
        for config in _configs(dump, "RoutesConfigDump")
        for c in config.get("dynamic_route_configs", [])
        if "route_config" in c
    }
    out: dict[str, dict[str, Any]] = {}
    for config in _configs(dump, "ListenersConfigDump"):
        for listener in config.get("dynamic_listeners", []):
            active = (listener.get("active_state") or {}).get("listener")
            if not active:
                continue
            name, hcm = _connection_manager(active)
            if name is not None:
                out[name] = {"listener": hcm, **route_configuration(routes.get(name, {"name": name}))}
    return dict(sorted(out.items()))


def differences(a: Any, b: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """(path, a's value, b's value) wherever the two projections differ, deepest first."""
    if isinstance(a, dict) and isinstance(b, dict):
        found = []
        for key in sorted(set(a) | set(b), key=str):
            found += differences(a.get(key), b.get(key), f"{path}/{key}" if path else str(key))
        return found
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [(path, a, b)]
