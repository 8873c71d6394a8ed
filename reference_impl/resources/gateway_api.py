"""Gateway API kinds: Gateway, HTTPRoute (v1) and ReferenceGrant (v1beta1)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from reference_impl.http_syntax import TOKEN
from reference_impl.resources.meta import Model, ObjectMeta, ObjectName, SectionName

GATEWAY_GROUP = "gateway.networking.k8s.io"
# Gateway API's Hostname: a DNS name, optionally with a single leading "*." label.
HOSTNAME = re.compile(r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
Hostname = Annotated[str, StringConstraints(min_length=1, max_length=253, pattern=HOSTNAME.pattern)]
Port = Annotated[int, Field(ge=1, le=65535)]


class AllowedNamespaces(Model):
    from_: Literal["All", "Same", "Selector"] = Field(default="Same", alias="from")
    selector: dict | None = None


class AllowedRoutes(Model):
    namespaces: AllowedNamespaces = Field(default_factory=AllowedNamespaces)
    kinds: list[dict] | None = None


class Listener(Model):
    name: SectionName
    port: Port
    protocol: Literal["HTTP", "HTTPS"] = "HTTP"
    hostname: Hostname | None = None
    allowed_routes: AllowedRoutes = Field(default_factory=AllowedRoutes, alias="allowedRoutes")
    tls: dict | None = None


class GatewaySpec(Model):
    gateway_class_name: ObjectName = Field(alias="gatewayClassName")
    listeners: list[Listener] = Field(min_length=1, max_length=64)
    addresses: list[dict] | None = None
    infrastructure: dict | None = None

    @model_validator(mode="after")
    def _unique_listener_names(self) -> GatewaySpec:
        names = [listener.name for listener in self.listeners]
        if len(names) != len(set(names)):
            raise ValueError("listener names must be unique within a Gateway")
        return self


class Gateway(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True, strict=True)

    api_version: Literal["gateway.networking.k8s.io/v1", "gateway.networking.k8s.io/v1beta1"] = Field(
        alias="apiVersion"
    )
    kind: Literal["Gateway"]
    metadata: ObjectMeta
    spec: GatewaySpec
    status: dict | None = None


class ParentRef(Model):
    group: str = GATEWAY_GROUP
    kind: Literal["Gateway"] = "Gateway"
    name: ObjectName
    namespace: str | None = None
    section_name: SectionName | None = Field(default=None, alias="sectionName")
    port: Port | None = None


class PathMatch(Model):
    type: Literal["PathPrefix", "Exact"] = "PathPrefix"
    value: Annotated[str, StringConstraints(max_length=1024)] = "/"

    @field_validator("value")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must be an absolute path starting with '/'")
        return value


# Gateway API's HTTPHeaderName: an RFC 9110 token.
HTTPHeaderName = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=TOKEN.pattern)]


class HeaderMatch(Model):
    type: Literal["Exact"] = "Exact"
    name: HTTPHeaderName
    value: Annotated[str, StringConstraints(max_length=4096)]


class QueryParamMatch(Model):
    type: Literal["Exact"] = "Exact"
    name: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    value: Annotated[str, StringConstraints(max_length=1024)]


HTTPMethod = Literal["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"]


class RouteMatch(Model):
    path: PathMatch = Field(default_factory=PathMatch)
    headers: list[HeaderMatch] = Field(default_factory=list, max_length=16)
    query_params: list[QueryParamMatch] = Field(default_factory=list, max_length=16, alias="queryParams")
    method: HTTPMethod | None = None


class LocalObjectReference(Model):
    group: str
    kind: str
    name: ObjectName


class HeaderValue(Model):
    name: HTTPHeaderName
    value: Annotated[str, StringConstraints(min_length=1, max_length=4096)]


class HeaderModifier(Model):
    set: list[HeaderValue] = Field(default_factory=list, max_length=16)
    add: list[HeaderValue] = Field(default_factory=list, max_length=16)
    remove: list[HTTPHeaderName] = Field(default_factory=list, max_length=16)


class RouteFilter(Model):
    type: Literal["ExtensionRef", "RequestHeaderModifier"]
    extension_ref: LocalObjectReference | None = Field(default=None, alias="extensionRef")
    request_header_modifier: HeaderModifier | None = Field(default=None, alias="requestHeaderModifier")

    @model_validator(mode="after")
    def _config_matches_type(self) -> RouteFilter:
        if self.type == "ExtensionRef" and self.extension_ref is None:
            raise ValueError("filter.extensionRef must be specified for ExtensionRef filter.type")
        if self.type == "RequestHeaderModifier" and self.request_header_modifier is None:
            raise ValueError("filter.requestHeaderModifier must be specified for RequestHeaderModifier filter.type")
        return self


class BackendRef(Model):
    group: str = ""
    kind: str = "Service"
    name: ObjectName
    namespace: str | None = None
    port: Port | None = None
    weight: Annotated[int, Field(ge=0, le=1_000_000)] = 1

    @model_validator(mode="after")
    def _service_needs_port(self) -> BackendRef:
        if self.kind == "Service" and self.group in ("", "core") and self.port is None:
            raise ValueError("Must have port for Service reference")
        return self


class RouteRule(Model):
    name: SectionName | None = None
    matches: list[RouteMatch] = Field(default_factory=lambda: [RouteMatch()], max_length=64)
    filters: list[RouteFilter] = Field(default_factory=list, max_length=16)
    backend_refs: list[BackendRef] = Field(default_factory=list, alias="backendRefs", max_length=16)
    timeouts: dict | None = None


class HTTPRouteSpec(Model):
    parent_refs: list[ParentRef] = Field(default_factory=list, alias="parentRefs", max_length=32)
    hostnames: list[Hostname] = Field(default_factory=list, max_length=16)
    rules: list[RouteRule] = Field(default_factory=lambda: [RouteRule()], max_length=16)

    @model_validator(mode="after")
    def _unique_rule_names(self) -> HTTPRouteSpec:
        names = [rule.name for rule in self.rules if rule.name]
        if len(names) != len(set(names)):
            raise ValueError("Rule name must be unique within the route")
        return self


class HTTPRoute(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True, strict=True)

    api_version: Literal["gateway.networking.k8s.io/v1", "gateway.networking.k8s.io/v1beta1"] = Field(
        alias="apiVersion"
    )
    kind: Literal["HTTPRoute"]
    metadata: ObjectMeta
    spec: HTTPRouteSpec
    status: dict | None = None


class GrantFrom(Model):
    group: str
    kind: str
    namespace: str


class GrantTo(Model):
    group: str
    kind: str
    name: str | None = None


class ReferenceGrantSpec(Model):
    from_: list[GrantFrom] = Field(alias="from", min_length=1, max_length=16)
    to: list[GrantTo] = Field(min_length=1, max_length=16)


class ReferenceGrant(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True, strict=True)

    api_version: Literal["gateway.networking.k8s.io/v1beta1", "gateway.networking.k8s.io/v1"] = Field(
        alias="apiVersion"
    )
    kind: Literal["ReferenceGrant"]
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
