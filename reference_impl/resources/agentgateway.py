"""agentgateway's AgentgatewayPolicy (agentgateway.dev/v1alpha1), the `traffic.apiKeyAuthentication` part."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from reference_impl.http_syntax import TOKEN
from reference_impl.resources.meta import LabelSelector, Model, ObjectMeta, ObjectName, PolicyTargetRef

AGENTGATEWAY_POLICY_TARGET_KINDS = ("Gateway", "HTTPRoute", "GRPCRoute", "ListenerSet", "XListenerSet")

Name = Annotated[str, StringConstraints(min_length=1, max_length=256)]
HeaderName = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=TOKEN.pattern)]


class LocalSecretReference(Model):
    name: ObjectName


class HeaderLocation(Model):
    name: HeaderName
    prefix: Annotated[str, StringConstraints(min_length=1)] | None = None


class NamedLocation(Model):
    name: Name


class Location(Model):
    header: HeaderLocation | None = None
    query_parameter: NamedLocation | None = Field(default=None, alias="queryParameter")
    cookie: NamedLocation | None = None
    expression: Annotated[str, StringConstraints(min_length=1, max_length=16384)] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Location:
        chosen = [f for f in (self.header, self.query_parameter, self.cookie, self.expression) if f is not None]
        if len(chosen) != 1:
            raise ValueError("exactly one of header, queryParameter, cookie or expression must be set")
        return self


class APIKeyAuthentication(Model):
    mode: Literal["Strict", "Optional", "Permissive"] = "Strict"
    secret_ref: LocalSecretReference | None = Field(default=None, alias="secretRef")
    secret_selector: LabelSelector | None = Field(default=None, alias="secretSelector")
    config_map_selector: LabelSelector | None = Field(default=None, alias="configMapSelector")
    location: Location | None = None

    @model_validator(mode="after")
    def _exactly_one_source(self) -> APIKeyAuthentication:
        chosen = [f for f in (self.secret_ref, self.secret_selector, self.config_map_selector) if f is not None]
        if len(chosen) != 1:
            raise ValueError("exactly one of secretRef, secretSelector or configMapSelector must be set")
        return self


class TrafficSpec(BaseModel):
    # Other traffic features (rateLimit, cors, ...) are accepted and left alone.
    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True, strict=True)

    api_key_authentication: APIKeyAuthentication | None = Field(default=None, alias="apiKeyAuthentication")


class AgentgatewayPolicySpec(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True, strict=True)

    target_refs: list[PolicyTargetRef] | None = Field(default=None, alias="targetRefs", min_length=1, max_length=16)
    target_selectors: list[dict] | None = Field(default=None, alias="targetSelectors")
    traffic: TrafficSpec | None = None

    @field_validator("target_refs")
    @classmethod
    def _target_kinds(cls, refs: list[PolicyTargetRef] | None) -> list[PolicyTargetRef] | None:
        for ref in refs or []:
            if ref.kind not in AGENTGATEWAY_POLICY_TARGET_KINDS:
                raise ValueError(f"kind must be one of {', '.join(AGENTGATEWAY_POLICY_TARGET_KINDS)}; got {ref.kind!r}")
        return refs


class AgentgatewayPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True, strict=True)

    api_version: Literal["agentgateway.dev/v1alpha1"] = Field(alias="apiVersion")
    kind: Literal["AgentgatewayPolicy"]
    metadata: ObjectMeta
    spec: AgentgatewayPolicySpec
    status: dict | None = None
