"""agentgateway's AgentgatewayPolicy (agentgateway.dev/v1alpha1) as admitted: `traffic.apiKeyAuthentication`."""

from __future__ import annotations

from pydantic import Field

from reference_impl.resources.meta import LabelSelector, Model, ObjectMeta, PolicyTargetRef


class LocalSecretObjectRef(Model):
    """A same-namespace credential: only `name` for a Secret; a custom credential sets group and kind."""

    name: str
    group: str = ""
    kind: str = ""

    @property
    def is_secret(self) -> bool:
        return self.group == "" and self.kind in ("", "Secret")


class HeaderLocation(Model):
    name: str
    prefix: str | None = None


class NamedLocation(Model):
    name: str


class Location(Model):
    header: HeaderLocation | None = None
    query_parameter: NamedLocation | None = Field(default=None, alias="queryParameter")
    cookie: NamedLocation | None = None
    expression: str | None = None


class APIKeyAuthentication(Model):
    mode: str = "Strict"
    secret_ref: LocalSecretObjectRef | None = Field(default=None, alias="secretRef")
    secret_selector: LabelSelector | None = Field(default=None, alias="secretSelector")
    config_map_selector: LabelSelector | None = Field(default=None, alias="configMapSelector")
    location: Location | None = None


class TrafficSpec(Model):
    # Other traffic features (rateLimit, cors, ...) are admitted and left alone.
    api_key_authentication: APIKeyAuthentication | None = Field(default=None, alias="apiKeyAuthentication")


class AgentgatewayPolicySpec(Model):
    target_refs: tuple[PolicyTargetRef, ...] = Field(default=(), alias="targetRefs")
    target_selectors: tuple[dict, ...] = Field(default=(), alias="targetSelectors")
    traffic: TrafficSpec | None = None


class AgentgatewayPolicy(Model):
    api_version: str = Field(alias="apiVersion")
    kind: str
    metadata: ObjectMeta
    spec: AgentgatewayPolicySpec
