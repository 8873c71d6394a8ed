"""Gateway API routing: which HTTPRoute rules serve which listener, host, path, method and headers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reference_impl.auth.decision import Deny
from reference_impl.compile.filters import HeaderEdit
from reference_impl.resources import Gateway, HTTPRoute
from reference_impl.resources.gateway_api import GATEWAY_GROUP, Listener, RouteMatch

HTTP_PROTOCOLS = ("HTTP", "HTTPS")  # the listener protocols an HTTPRoute attaches to


@dataclass(frozen=True, slots=True)
class Match:
    exact_path: str | None  # set for Exact
    prefix: str | None  # set for PathPrefix, trailing "/" removed ("" matches everything)
    method: str | None
    headers: tuple[tuple[bytes, bytes], ...]  # lower-case names
    query: tuple[tuple[bytes, bytes], ...]  # decoded name and value

    def sort_key(self) -> tuple[int, int, int, int, int]:
        # Gateway API precedence: Exact path, longest prefix, method, most header matches, most query matches.
        path_length = len(self.exact_path if self.exact_path is not None else self.prefix or "")
        return (
            0 if self.exact_path is not None else 1,
            -path_length,
            0 if self.method else 1,
            -len(self.headers),
            -len(self.query),
        )


def compile_match(spec: RouteMatch) -> Match:
    exact = spec.path.value if spec.path.type == "Exact" else None
    prefix = spec.path.value.rstrip("/") if spec.path.type == "PathPrefix" else None
    return Match(
        exact_path=exact,
        prefix=prefix,
        method=spec.method,
        headers=tuple((h.name.lower().encode("latin-1"), h.value.encode("latin-1")) for h in spec.headers),
        query=tuple((q.name.encode("utf-8"), q.value.encode("utf-8")) for q in spec.query_params),
    )


@dataclass(frozen=True, slots=True)
class Rule:
    """One HTTPRoute rule as served on one listener, with its effective auth already resolved."""

    route: str  # "ns/name"
    index: int
    name: str | None
    backend: str | None  # base URL of the upstream
    backend_error: str | None
    auth: Any  # KgatewayAuth | AgentgatewayAuth | Deny | None
    policy: str | None  # the policy that decided `auth`, "Kind ns/name"
    header_edit: HeaderEdit | None = None  # the rule's RequestHeaderModifier filters, compiled
    # kgateway: the rule was replaced by this answer (an invalid policy or filter), behind `auth`, the api_key_auth
    # of the scopes around the replaced one, which Envoy still applies first.
    replaced: Deny | None = None

    @property
    def label(self) -> str:
        return f"{self.route}/{self.name or self.index}"


@dataclass(frozen=True, slots=True)
class Candidate:
    match: Match
    rule: Rule


@dataclass(frozen=True)
class ListenerTable:
    """All candidates for one port, grouped by hostname so lookup by Host is a dict hit."""

    port: int
    exact: Mapping[str, tuple[Candidate, ...]] = field(default_factory=dict)
    wildcard: tuple[tuple[str, tuple[Candidate, ...]], ...] = ()  # (".example.com", ...), longest first
    catch_all: tuple[Candidate, ...] = ()
    # kgateway's data plane is Envoy: its listeners hold and forward headers as Envoy does (gateway/envoy_headers.py).
    envoy_headers: bool = False

    def candidates(self, host: str) -> tuple[Candidate, ...]:
        found = self.exact.get(host)
        if found is not None:
            return found
        for suffix, candidates in self.wildcard:
            if host.endswith(suffix) and len(host) > len(suffix):
                return candidates
        return self.catch_all


def host_of(authority: str) -> str:
    """Host without port, lower-case; IPv6 literals keep their brackets."""
    authority = authority.strip().lower()
    if authority.startswith("["):
        return authority.split("]", 1)[0] + "]"
    return authority.rsplit(":", 1)[0] if authority.count(":") == 1 else authority


def hostname_matches(pattern: str, host: str) -> bool:
    if pattern.startswith("*."):
        return host.endswith(pattern[1:]) and len(host) > len(pattern) - 1
    return pattern == host


def effective_hostnames(listener: Listener, route: HTTPRoute) -> list[str] | None:
    """Hostnames a route serves on a listener ("*" = any); None when they do not intersect."""
    listener_host = listener.hostname
    route_hosts = route.spec.hostnames
    if not route_hosts:
        return [listener_host or "*"]
    if listener_host is None:
        return list(route_hosts)
    served = []
    for host in route_hosts:
        if hostname_matches(listener_host, host) or host == listener_host:
            served.append(host)
        elif hostname_matches(host, listener_host):
            served.append(listener_host)
    return served or None


def attached_listeners(gateway: Gateway, route: HTTPRoute) -> list[Listener]:
    """Listeners of `gateway` that accept `route` through one of its parentRefs."""
    gw_ns, gw_name = gateway.metadata.namespace, gateway.metadata.name
    found: list[Listener] = []
    for ref in route.spec.parent_refs:
        if (ref.group, ref.kind) != (GATEWAY_GROUP, "Gateway"):
            continue
        if ref.name != gw_name or (ref.namespace or route.metadata.namespace) != gw_ns:
            continue
        for listener in gateway.spec.listeners:
            if listener.protocol not in HTTP_PROTOCOLS:
                continue
            if ref.section_name is not None and ref.section_name != listener.name:
                continue
            if ref.port is not None and ref.port != listener.port:
                continue
            allowed = listener.allowed_routes.namespaces.from_
            if allowed == "Same" and route.metadata.namespace != gw_ns:
                continue
            if listener not in found:
                found.append(listener)
    return found


def build_table(port: int, entries: list[tuple[str, tuple, Candidate]]) -> ListenerTable:
    """`entries` are (hostname or "*", tie-break key, candidate). Candidates are ordered by precedence."""

    def ordered(items: list[tuple[tuple, Candidate]]) -> tuple[Candidate, ...]:
        return tuple(c for _, c in sorted(items, key=lambda item: (item[1].match.sort_key(), item[0])))

    exact: dict[str, list] = {}
    wildcard: dict[str, list] = {}
    catch_all: list = []
    for host, tie, candidate in entries:
        if host == "*":
            catch_all.append((tie, candidate))
        elif host.startswith("*."):
            wildcard.setdefault(host[1:], []).append((tie, candidate))
        else:
            exact.setdefault(host, []).append((tie, candidate))

    # A request for an exact host falls back to matching wildcard routes, then catch-all routes.
    def wildcard_for(host: str) -> list:
        merged: list = []
        for suffix in sorted(wildcard, key=len, reverse=True):
            if host.endswith(suffix) and len(host) > len(suffix):
                merged.extend(ordered(wildcard[suffix]))
        return merged

    catch_all_ordered = ordered(catch_all)
    exact_table = {host: (*ordered(items), *wildcard_for(host), *catch_all_ordered) for host, items in exact.items()}
    wildcard_table = tuple(
        (suffix, (*ordered(wildcard[suffix]), *catch_all_ordered)) for suffix in sorted(wildcard, key=len, reverse=True)
    )
    return ListenerTable(port=port, exact=exact_table, wildcard=wildcard_table, catch_all=catch_all_ordered)
