"""kgateway's TrafficPolicy (gateway.kgateway.dev/v1alpha1) as admitted: the `apiKeyAuth` part and its targets."""

from __future__ import annotations

from pydantic import Field

from reference_impl.resources.meta import LabelSelector, Model, ObjectMeta, PolicyTargetRef

KGATEWAY_GROUP = "gateway.kgateway.dev"


class SecretObjectReference(Model):
    """Gateway API's SecretObjectReference; admission defaults group "" and kind Secret."""

    group: str = ""
    kind: str = "Secret"
    name: str
    namespace: str | None = None


class KeySource(Model):
    header: str | None = None
    query: str | None = None
    cookie: str | None = None


class Disable(Model):
    """`disable: {}`: an empty marker object."""


class APIKeyAuth(Model):
    secret_ref: SecretObjectReference | None = Field(default=None, alias="secretRef")
    secret_selector: LabelSelector | None = Field(default=None, alias="secretSelector")
    disable: Disable | None = None
    key_sources: tuple[KeySource, ...] = Field(default=(), alias="keySources")
    forward_credential: bool | None = Field(default=None, alias="forwardCredential")
    client_id_header: str | None = Field(default=None, alias="clientIdHeader")


class TrafficPolicySpec(Model):
    # Other TrafficPolicy features (cors, rateLimit, ...) are admitted and left alone.
    target_refs: tuple[PolicyTargetRef, ...] = Field(default=(), alias="targetRefs")
    target_selectors: tuple[dict, ...] = Field(default=(), alias="targetSelectors")
    api_key_auth: APIKeyAuth | None = Field(default=None, alias="apiKeyAuth")


class TrafficPolicy(Model):
    api_version: str = Field(alias="apiVersion")
    kind: str
    metadata: ObjectMeta
    spec: TrafficPolicySpec
