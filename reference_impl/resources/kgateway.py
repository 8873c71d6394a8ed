"""kgateway's TrafficPolicy (gateway.kgateway.dev/v1alpha1), the `apiKeyAuth` part and its CRD rules."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from reference_impl.resources.meta import LabelSelector, Model, ObjectMeta, ObjectName, PolicyTargetRef

KGATEWAY_GROUP = "gateway.kgateway.dev"
TRAFFIC_POLICY_TARGET_KINDS = ("Gateway", "HTTPRoute", "GRPCRoute", "XListenerSet", "ListenerSet")

SourceName = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class SecretObjectReference(Model):
    group: str = ""
    kind: str = "Secret"
    name: ObjectName
    namespace: str | None = None

    @model_validator(mode="after")
    def _is_secret(self) -> SecretObjectReference:
        if self.group not in ("", "core") or self.kind != "Secret":
            raise ValueError("must reference a core Secret (group '' and kind 'Secret')")
        return self


class KeySource(Model):
    header: SourceName | None = None
    query: SourceName | None = None
    cookie: SourceName | None = None

    @model_validator(mode="after")
    def _at_least_one(self) -> KeySource:
        if self.header is None and self.query is None and self.cookie is None:
            raise ValueError("at least one of the fields in [header query cookie] must be set")
        return self


class Disable(Model):
    """`disable: {}`: an empty marker object."""


class APIKeyAuth(Model):
    secret_ref: SecretObjectReference | None = Field(default=None, alias="secretRef")
    secret_selector: LabelSelector | None = Field(default=None, alias="secretSelector")
    disable: Disable | None = None
    key_sources: list[KeySource] | None = Field(default=None, alias="keySources", max_length=16)
    forward_credential: bool | None = Field(default=None, alias="forwardCredential")
    client_id_header: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = Field(
        default=None, alias="clientIdHeader"
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> APIKeyAuth:
        chosen = [f for f in (self.secret_ref, self.secret_selector, self.disable) if f is not None]
        if len(chosen) != 1:
            raise ValueError("exactly one of the fields in [secretRef secretSelector disable] must be set")
        return self


class TrafficPolicySpec(BaseModel):
    # Other TrafficPolicy features (cors, rateLimit, ...) are accepted and left alone.
    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True, strict=True)

    target_refs: list[PolicyTargetRef] | None = Field(default=None, alias="targetRefs", min_length=1, max_length=16)
    target_selectors: list[dict] | None = Field(default=None, alias="targetSelectors")
    api_key_auth: APIKeyAuth | None = Field(default=None, alias="apiKeyAuth")

    @field_validator("target_refs")
    @classmethod
    def _target_kinds(cls, refs: list[PolicyTargetRef] | None) -> list[PolicyTargetRef] | None:
        for ref in refs or []:
            if ref.kind not in TRAFFIC_POLICY_TARGET_KINDS:
                raise ValueError(f"kind must be one of {', '.join(TRAFFIC_POLICY_TARGET_KINDS)}; got {ref.kind!r}")
            if ref.group != "gateway.networking.k8s.io" and ref.kind in ("Gateway", "HTTPRoute", "GRPCRoute"):
                raise ValueError(f"group must be gateway.networking.k8s.io for kind {ref.kind}")
        return refs


class TrafficPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True, strict=True)

    api_version: Literal["gateway.kgateway.dev/v1alpha1"] = Field(alias="apiVersion")
    kind: Literal["TrafficPolicy"]
    metadata: ObjectMeta
    spec: TrafficPolicySpec
    status: dict | None = None
