"""Gateway API kinds as admitted: Gateway, HTTPRoute and ReferenceGrant (defaults already applied)."""

from __future__ import annotations

from pydantic import Field

from reference_impl.resources.meta import Model, ObjectMeta

GATEWAY_GROUP = "gateway.networking.k8s.io"
# The match and filter types compile applies; the CRDs admit more (compile reports those on the route).
SUPPORTED_PATH_TYPES = ("PathPrefix", "Exact")
SUPPORTED_VALUE_MATCH_TYPES = ("Exact",)
SUPPORTED_FILTER_TYPES = ("ExtensionRef", "RequestHeaderModifier")


class AllowedNamespaces(Model):
    from_: str = Field(default="Same", alias="from")
    selector: dict | None = None


class AllowedRoutes(Model):
    namespaces: AllowedNamespaces = Field(default_factory=AllowedNamespaces)
    kinds: tuple[dict, ...] | None = None


class Listener(Model):
    name: str
    port: int
    protocol: str
    hostname: str | None = None
    allowed_routes: AllowedRoutes = Field(default_factory=AllowedRoutes, alias="allowedRoutes")


class GatewaySpec(Model):
    gateway_class_name: str = Field(alias="gatewayClassName")
    listeners: tuple[Listener, ...]


class Gateway(Model):
    api_version: str = Field(alias="apiVersion")
    kind: str
    metadata: ObjectMeta
    spec: GatewaySpec


class ParentRef(Model):
    group: str = GATEWAY_GROUP
    kind: str = "Gateway"
    name: str
    namespace: str | None = None
    section_name: str | None = Field(default=None, alias="sectionName")
    port: int | None = None


class PathMatch(Model):
    type: str = "PathPrefix"
    value: str = "/"


class HeaderMatch(Model):
    type: str = "Exact"
    name: str
    value: str


class QueryParamMatch(Model):
    type: str = "Exact"
    name: str
    value: str


class RouteMatch(Model):
    path: PathMatch = Field(default_factory=PathMatch)
    headers: tuple[HeaderMatch, ...] = ()
    query_params: tuple[QueryParamMatch, ...] = Field(default=(), alias="queryParams")
    method: str | None = None

    def unsupported(self) -> str | None:
        """The first match type compile cannot apply, as "field: value", or None."""
        if self.path.type not in SUPPORTED_PATH_TYPES:
            return f"path.type: {self.path.type}"
        for field, items in (("headers", self.headers), ("queryParams", self.query_params)):
            for index, item in enumerate(items):
                if item.type not in SUPPORTED_VALUE_MATCH_TYPES:
                    return f"{field}[{index}].type: {item.type}"
        return None


class LocalObjectReference(Model):
    group: str
    kind: str
    name: str


class HeaderValue(Model):
    name: str
    value: str


class HeaderModifier(Model):
    set: tuple[HeaderValue, ...] = ()
    add: tuple[HeaderValue, ...] = ()
    remove: tuple[str, ...] = ()


class RouteFilter(Model):
    type: str
    extension_ref: LocalObjectReference | None = Field(default=None, alias="extensionRef")
    request_header_modifier: HeaderModifier | None = Field(default=None, alias="requestHeaderModifier")


class BackendRef(Model):
    group: str = ""
    kind: str = "Service"
    name: str
    namespace: str | None = None
    port: int | None = None
    weight: int = 1


class RouteRule(Model):
    name: str | None = None
    matches: tuple[RouteMatch, ...] = (RouteMatch(),)
    filters: tuple[RouteFilter, ...] = ()
    backend_refs: tuple[BackendRef, ...] = Field(default=(), alias="backendRefs")

    def unsupported_filter(self) -> str | None:
        """The first filter whose type compile cannot apply, as "filters[i].type: filter type T", or None."""
        for index, route_filter in enumerate(self.filters):
            if route_filter.type not in SUPPORTED_FILTER_TYPES:
                return f"filters[{index}].type: filter type {route_filter.type}"
        return None


class HTTPRouteSpec(Model):
    parent_refs: tuple[ParentRef, ...] = Field(default=(), alias="parentRefs")
    hostnames: tuple[str, ...] = ()
    rules: tuple[RouteRule, ...] = (RouteRule(),)

    def unsupported_match(self) -> str | None:
        """The first match type compile cannot apply, as "spec.rules[i].matches[j].<field>: <type>", or None."""
        for index, rule in enumerate(self.rules):
            for match_index, match in enumerate(rule.matches):
                problem = match.unsupported()
                if problem is not None:
                    return f"spec.rules[{index}].matches[{match_index}].{problem}"
        return None


class HTTPRoute(Model):
    api_version: str = Field(alias="apiVersion")
    kind: str
    metadata: ObjectMeta
    spec: HTTPRouteSpec


class GrantFrom(Model):
    group: str
    kind: str
    namespace: str


class GrantTo(Model):
    group: str
    kind: str
    name: str | None = None


class ReferenceGrantSpec(Model):
    from_: tuple[GrantFrom, ...] = Field(alias="from")
    to: tuple[GrantTo, ...]


class ReferenceGrant(Model):
    api_version: str = Field(alias="apiVersion")
    kind: str
    metadata: ObjectMeta
    spec: ReferenceGrantSpec

    def allows(self, *, from_group: str, from_kind: str, from_namespace: str, to_kind: str, to_name: str) -> bool:
        """True if this grant (living in the target's namespace) lets `from_*` reference `to_kind/to_name`."""
        source_ok = any(
            f.group == from_group and f.kind == from_kind and f.namespace == from_namespace for f in self.spec.from_
        )
        target_ok = any(
            t.group in ("", "core") and t.kind == to_kind and (t.name is None or t.name == to_name)
            for t in self.spec.to
        )
        return source_ok and target_ok
