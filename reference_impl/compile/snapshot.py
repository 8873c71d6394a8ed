"""Compilation of all resources into one immutable Snapshot that the request path reads without locks."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from reference_impl.auth.decision import Deny
from reference_impl.auth.kgateway import DENY_INVALID_POLICY
from reference_impl.compile.agentgateway import compile_agentgateway_policy
from reference_impl.compile.attachment import GATEWAY as GATEWAY_LEVEL
from reference_impl.compile.attachment import LISTENER, Attached, most_specific, reaching
from reference_impl.compile.filters import (
    FilterError,
    compile_header_edit,
    extension_ref_names,
    merge_edits,
    unsupported_extension_ref,
)
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
from reference_impl.compile.status import Condition, invalid
from reference_impl.compile.targets import with_target_status
from reference_impl.resources import AgentgatewayPolicy, Gateway, HTTPRoute, TrafficPolicy
from reference_impl.resources.gateway_api import GATEWAY_GROUP, Listener, RouteRule

log = logging.getLogger("reference_impl.compile")

# What a route rule answers when one of its filters cannot be applied (Gateway API: never skip the filter).
DENY_INVALID_FILTER = Deny(500, b"route rule filter could not be applied", "invalid-filter")
# What every listener answers when the configuration could not be compiled at all: closed, never open.
DENY_UNCOMPILED = Deny(503, b"gateway configuration could not be compiled; see the gateway log", "config-error")

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
    # (namespace, name) -> the problems a route has (Accepted / ResolvedRefs conditions with status False)
    route_status: Mapping[tuple[str, str], tuple[Condition, ...]] = field(default_factory=dict)
    # Set when compilation failed as a whole: every listener then answers 503 (fail closed).
    error: str | None = None

    def table(self, port: int) -> ListenerTable | None:
        return self.listeners.get(port)


EMPTY = Snapshot(generation=0, listeners={}, policy_status={}, gateway_status={})

PolicyCompiler = Callable[[Any, Inventory], tuple[Any, Condition]]


def _compile_one(policy: TrafficPolicy | AgentgatewayPolicy, compiler: PolicyCompiler, inventory: Inventory):
    """A policy's effect and status. An unexpected error fails the policy closed instead of the whole snapshot;
    only the exception type is kept (its text could quote configuration)."""
    try:
        return compiler(policy, inventory)
    except Exception as error:  # a bug in one policy's translation must not open or take down the others
        log.exception("internal error compiling %s %s/%s", policy.kind, policy.metadata.namespace, policy.metadata.name)
        return DENY_INVALID_POLICY, invalid(f"internal error while translating the policy ({type(error).__name__})")


def _compile_policies(inventory: Inventory) -> tuple[list[Attached], dict[tuple[str, str, str], Condition]]:
    attached: list[Attached] = []
    status: dict[tuple[str, str, str], Condition] = {}
    pairs: list[tuple[Any, PolicyCompiler]] = [(p, compile_traffic_policy) for p in inventory.traffic_policies]
    pairs += [(p, compile_agentgateway_policy) for p in inventory.agentgateway_policies]
    for policy, compiler in pairs:
        effect, condition = _compile_one(policy, compiler, inventory)
        ns, name = policy.metadata.namespace, policy.metadata.name
        status[(policy.kind, ns, name)] = with_target_status(policy, inventory, condition)
        # Only Gateway API kinds attach; a ref of another group reaches nothing (targets.py reports it).
        refs = tuple((r.kind, r.name, r.section_name) for r in policy.spec.target_refs if r.group == GATEWAY_GROUP)
        attached.append(Attached(policy.kind, ns, name, refs, effect))
    return attached, status


def _winner_auth(reached: list[tuple[int, Attached]]) -> tuple[object | None, str | None]:
    """The most specific policy's effect (None when it disables auth or nothing reaches) and its label."""
    winner = most_specific(reached)
    if winner is None or isinstance(winner.effect, Disabled):
        return None, winner.label if winner else None
    return winner.effect, winner.label


def _effective_auth(reached: list[tuple[int, Attached]], dialect: str) -> tuple[object | None, str | None, Deny | None]:
    """(auth, the policy that decided it, the answer that replaces the rule) for one rule.

    An invalid policy anywhere in the chain fails closed: it never falls back to a less specific policy. kgateway
    replaces the route with a 500 direct response, and Envoy still applies the api_key_auth config of the scopes
    around the route (its listener's, its Gateway's): a request they refuse gets their 401 first. A listener- or
    Gateway-level failure replaces the whole listener (`_replace_on_invalid_gateway_policy`)."""
    invalid = next((p for _, p in reached if isinstance(p.effect, Deny)), None)
    if invalid is None:
        auth, label = _winner_auth(reached)
        return auth, label, None
    outer = [(level, p) for level, p in reached if level <= LISTENER]
    if dialect != "TrafficPolicy" or any(isinstance(p.effect, Deny) for _, p in outer):
        return invalid.effect, invalid.label, None
    auth, _ = _winner_auth(outer)
    return auth, invalid.label, invalid.effect


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
    route_problems: dict[tuple[str, str], dict[str, Condition]] = {}
    per_port: dict[int, list[tuple[str, tuple, Candidate]]] = {}
    replaced_ports: dict[int, Replacement] = {}
    envoy_ports: set[int] = set()

    routes = sorted(
        inventory.routes.values(),
        key=lambda r: (
            inventory.created.get(("HTTPRoute", r.metadata.namespace, r.metadata.name), 0),
            r.metadata.namespace,
            r.metadata.name,
        ),
    )
    routes = [r for r in routes if _supported_matches(r, route_problems)]
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
        if dialect == "TrafficPolicy":
            envoy_ports.update(listener.port for listener in gateway.spec.listeners)
        own = [p for p in policies if p.kind == dialect]
        _replace_on_invalid_gateway_policy(gateway, own, replaced_ports)
        for order, route in enumerate(routes):
            listeners = list(attached_listeners(gateway, route))
            unsupported = unsupported_extension_ref(route, dialect) if listeners else None
            if unsupported is not None:
                _note(route_problems, route, Condition("Accepted", "False", unsupported.reason, unsupported.message))
                continue
            for listener in listeners:
                hosts = effective_hostnames(listener, route)
                if hosts is None:
                    continue
                for index, rule in enumerate(route.spec.rules):
                    candidate_rule = _compile_rule(
                        gateway, dialect, listener, route, index, rule, own, backends, inventory, route_problems
                    )
                    for match_index, match_spec in enumerate(rule.matches):
                        candidate = Candidate(compile_match(match_spec), candidate_rule)
                        tie = (order, route.metadata.namespace, route.metadata.name, index, match_index)
                        for host in hosts:
                            per_port.setdefault(listener.port, []).append((host, tie, candidate))
        for listener in gateway.spec.listeners:
            per_port.setdefault(listener.port, [])

    tables = {}
    for port, entries in per_port.items():
        table = _replaced_table(port, replaced_ports[port]) if port in replaced_ports else build_table(port, entries)
        tables[port] = replace(table, envoy_headers=port in envoy_ports)
    _parent_problems(inventory, gateway_status, route_problems)
    route_status = {key: tuple(found.values()) for key, found in sorted(route_problems.items())}
    return Snapshot(generation, tables, policy_status, gateway_status, route_status)


def _parent_problems(
    inventory: Inventory,
    gateway_status: Mapping[tuple[str, str], Condition],
    problems: dict[tuple[str, str], dict[str, Condition]],
) -> None:
    """A route none of whose parentRefs names a served Gateway is not Accepted (NoMatchingParent)."""
    for (ns, name), route in inventory.routes.items():
        missing = []
        for ref in route.spec.parent_refs:
            key = (ref.namespace or ns, ref.name)
            condition = gateway_status.get(key)
            if condition is None:
                missing.append(f"Gateway {key[0]}/{key[1]} not found")
            elif condition.status != "True":
                missing.append(f"Gateway {key[0]}/{key[1]} is not accepted")
        if missing and len(missing) == len(route.spec.parent_refs):
            problems.setdefault((ns, name), {})["Accepted"] = Condition(
                "Accepted", "False", "NoMatchingParent", "; ".join(missing)
            )


def _supported_matches(route: HTTPRoute, problems: dict[tuple[str, str], dict[str, Condition]]) -> bool:
    """A route with a match type compile cannot apply is not served at all (Accepted=False, UnsupportedValue):
    serving only its other matches could hand its requests to a less protected rule."""
    problem = route.spec.unsupported_match()
    if problem is not None:
        _note(problems, route, Condition("Accepted", "False", "UnsupportedValue", f"{problem} is not supported"))
    return problem is None


def _note(problems: dict[tuple[str, str], dict[str, Condition]], route: HTTPRoute, condition: Condition) -> None:
    key = (route.metadata.namespace, route.metadata.name)
    problems.setdefault(key, {}).setdefault(condition.type, condition)


def fail_closed_snapshot(previous: Snapshot, ports: Iterable[int], generation: int, error: str) -> Snapshot:
    """Every listener port (the previous snapshot's and the current Gateways') answers 503: a configuration that
    cannot be compiled must never leave the last compiled one serving keys that may have been revoked."""
    rule = Rule(route="*", index=0, name=None, backend=None, backend_error=None, auth=DENY_UNCOMPILED, policy=None)
    catch_all = (Candidate(Match(None, "", None, (), ()), rule),)
    tables = {port: ListenerTable(port=port, catch_all=catch_all) for port in {*previous.listeners, *ports}}
    return Snapshot(generation, tables, previous.policy_status, previous.gateway_status, previous.route_status, error)


def _compile_rule(
    gateway: Gateway,
    dialect: str,
    listener: Listener,
    route: HTTPRoute,
    index: int,
    rule: RouteRule,
    policies: list[Attached],
    backends: BackendMap,
    inventory: Inventory,
    problems: dict[tuple[str, str], dict[str, Condition]],
) -> Rule:
    where = f"spec.rules[{index}]"
    label = f"{route.metadata.namespace}/{route.metadata.name}"
    backend, backend_error = _backend(rule, route, backends)
    if backend_error:
        _note(problems, route, Condition("ResolvedRefs", "False", "BackendNotFound", f"{where}: {backend_error}"))
    try:
        own_policies = {p.name for p in policies if p.namespace == route.metadata.namespace}
        unsupported = rule.unsupported_filter()
        if unsupported is not None:
            raise FilterError("UnsupportedValue", f"{where}.{unsupported} is not supported")
        extension_refs = extension_ref_names(rule, where, dialect, own_policies)
        edit = merge_edits(
            compile_header_edit(f.request_header_modifier, f"{where}.filters[{i}].requestHeaderModifier")
            for i, f in enumerate(rule.filters)
            if f.type == "RequestHeaderModifier" and f.request_header_modifier is not None
        )
    except FilterError as error:
        condition_type = "ResolvedRefs" if error.reason in ("InvalidKind", "BackendNotFound") else "Accepted"
        _note(problems, route, Condition(condition_type, "False", error.reason, error.message))
        if dialect != "TrafficPolicy":
            return Rule(label, index, rule.name, backend, backend_error, DENY_INVALID_FILTER, None)
        # kgateway replaces the route; the api_key_auth of its listener and Gateway still comes first.
        outer = [(level, p) for level, p in reaching(policies, gateway, listener, route, rule) if level <= LISTENER]
        auth, policy_label = _winner_auth(outer)
        if isinstance(auth, Deny):
            return Rule(label, index, rule.name, backend, backend_error, auth, policy_label)
        return Rule(label, index, rule.name, backend, backend_error, auth, policy_label, replaced=DENY_INVALID_FILTER)
    reached = reaching(policies, gateway, listener, route, rule, extension_refs)
    auth, policy_label, replaced_by = _effective_auth(reached, dialect)
    return Rule(
        route=label,
        index=index,
        name=rule.name,
        backend=backend,
        backend_error=backend_error,
        auth=auth,
        policy=policy_label,
        header_edit=edit,
        replaced=replaced_by,
    )


@dataclass(frozen=True)
class Replacement:
    """A listener kgateway serves as an error: the failed policy, and the api_key_auth still applied first."""

    policy: str  # the failed policy's label
    auth: object | None = None  # a listener's failure leaves the Gateway-wide policy's config on the routes
    auth_policy: str | None = None


def _replace_on_invalid_gateway_policy(
    gateway: Gateway, policies: list[Attached], replaced: dict[int, Replacement]
) -> None:
    """kgateway replaces a listener's virtual hosts with a 500 when a listener-level policy fails, and the whole
    RouteConfiguration when a Gateway-wide one fails. Envoy still applies the Gateway-wide policy's api_key_auth
    config (it sits on the RouteConfiguration) in front of a replaced listener."""

    def targets(policy: Attached) -> Iterable[str | None]:
        for kind, name, section in policy.target_refs:
            if kind == "Gateway" and name == gateway.metadata.name and policy.namespace == gateway.metadata.namespace:
                yield section

    gateway_wide = [(GATEWAY_LEVEL, p) for p in policies if p.effect is not None and None in targets(p)]
    failed = [p for p in policies if p.effect is DENY_INVALID_POLICY]
    whole = next((p for p in failed if None in targets(p)), None)
    for listener in gateway.spec.listeners:
        if whole is not None:
            replaced[listener.port] = Replacement(whole.label)
            continue
        own = next((p for p in failed if listener.name in targets(p)), None)
        if own is not None:
            auth, label = _winner_auth(gateway_wide)
            replaced[listener.port] = Replacement(own.label, auth, label)


def _replaced_table(port: int, replacement: Replacement) -> ListenerTable:
    if replacement.auth is None:
        rule = Rule("*", 0, None, None, None, DENY_INVALID_POLICY, replacement.policy)
    else:
        rule = Rule("*", 0, None, None, None, replacement.auth, replacement.auth_policy, replaced=DENY_INVALID_POLICY)
    return ListenerTable(port=port, catch_all=(Candidate(Match(None, "", None, (), ()), rule),))
