"""Conformance profiles and their features, as the Gateway API suite names them: core and extended per profile."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources as importlib_resources
from typing import Any

from reference_impl.resources import decode_documents


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    gateway_namespace: str
    gateway_name: str
    listener_port: int
    core: tuple[str, ...]
    extended: tuple[str, ...]

    @property
    def features(self) -> tuple[str, ...]:
        return self.core + self.extended

    def base_manifests(self, host: str = "www.example.com") -> list[dict[str, Any]]:
        """The profile's Gateway and the `httpbin` HTTPRoute the guides' "before you begin" steps create."""
        text = importlib_resources.files("conformance.manifests").joinpath(f"{self.name}.yaml").read_text("utf-8")
        return decode_documents(text.replace("www.example.com", host), source=f"{self.name}.yaml")


# What each feature name means; a scenario carries one profile tag and one feature tag.
FEATURES: dict[str, str] = {
    "APIKeyAuth": "the guide's flow: Secret by name, default key location, 401 without a key, 200 with it; a policy on "
    "an HTTPRoute",
    "APIKeyAuthSecretSelector": "Secrets chosen by label selector",
    "APIKeyAuthCustomHeader": "the key read from a header named by the policy",
    "APIKeyAuthQuerySource": "the key read from a query parameter",
    "APIKeyAuthCookieSource": "the key read from a cookie",
    "APIKeyAuthMultipleSources": "several key sources and their real order",
    "APIKeyAuthBearerPrefix": "how a `Bearer ` prefix is handled",
    "APIKeyAuthClientIDHeader": "the authenticated client's id forwarded in a header",
    "APIKeyAuthHideCredential": "the key removed from the request before it reaches the upstream",
    "APIKeyAuthForwardCredential": "the key kept for the upstream on request",
    "APIKeyAuthDisable": "auth switched off for one route under a Gateway-wide policy",
    "APIKeyAuthRouteOverride": "a more specific policy replacing a Gateway-wide one",
    "APIKeyAuthSectionName": "policies attached to one listener or one named route rule",
    "APIKeyAuthCrossNamespaceSecret": "Secrets in another namespace, allowed only by a ReferenceGrant",
    "APIKeyAuthRotation": "keys added, replaced and revoked while traffic flows",
    "APIKeyAuthInvalidPolicy": "status of a policy that cannot be applied, and fail-closed traffic",
    "APIKeyAuthOptionalMode": "Optional mode: no key passes, a wrong key is rejected",
    "APIKeyAuthPermissiveMode": "Permissive mode: nothing is rejected",
    "APIKeyAuthKeyMetadata": "JSON entries with key and metadata, and partially valid Secrets",
    "APIKeyAuthHashedKeys": "keys stored as SHA-256 hashes, in Secrets or ConfigMaps",
    "APIKeyAuthMissingSecret": "a policy whose Secret does not exist fails closed",
}

PROFILES: dict[str, Profile] = {
    "kgateway": Profile(
        name="kgateway",
        description="kgateway TrafficPolicy.apiKeyAuth (Envoy api_key_auth filter)",
        gateway_namespace="kgateway-system",
        gateway_name="http",
        listener_port=8080,
        core=(
            "APIKeyAuth",
            "APIKeyAuthSecretSelector",
            "APIKeyAuthCustomHeader",
            "APIKeyAuthHideCredential",
            "APIKeyAuthDisable",
            "APIKeyAuthRouteOverride",
            "APIKeyAuthRotation",
            "APIKeyAuthInvalidPolicy",
        ),
        extended=(
            "APIKeyAuthQuerySource",
            "APIKeyAuthCookieSource",
            "APIKeyAuthMultipleSources",
            "APIKeyAuthBearerPrefix",
            "APIKeyAuthClientIDHeader",
            "APIKeyAuthForwardCredential",
            "APIKeyAuthSectionName",
            "APIKeyAuthCrossNamespaceSecret",
        ),
    ),
    "agentgateway": Profile(
        name="agentgateway",
        description="agentgateway AgentgatewayPolicy.traffic.apiKeyAuthentication",
        gateway_namespace="agentgateway-system",
        gateway_name="agentgateway-proxy",
        listener_port=80,
        core=(
            "APIKeyAuth",
            "APIKeyAuthSecretSelector",
            "APIKeyAuthHideCredential",
            "APIKeyAuthOptionalMode",
            "APIKeyAuthRotation",
            "APIKeyAuthMissingSecret",
        ),
        extended=(
            "APIKeyAuthBearerPrefix",
            "APIKeyAuthCustomHeader",
            "APIKeyAuthQuerySource",
            "APIKeyAuthCookieSource",
            "APIKeyAuthPermissiveMode",
            "APIKeyAuthKeyMetadata",
            "APIKeyAuthHashedKeys",
            "APIKeyAuthRouteOverride",
            "APIKeyAuthSectionName",
        ),
    ),
}


def qualified(profile: str, feature: str) -> str:
    return f"{profile}/{feature}"


def parse_feature_list(value: str | None) -> set[str] | None:
    """ "all" or empty -> None (everything); else a set of "Feature" or "profile/Feature" names, validated."""
    if value is None or value.strip() in ("", "all"):
        return None
    names = {item.strip() for item in value.split(",") if item.strip()}
    known = set(FEATURES)
    for name in names:
        profile, _, feature = name.rpartition("/")
        if feature not in known or (profile and profile not in PROFILES):
            raise ValueError(
                f"unknown feature {name!r}; expected FEATURE or PROFILE/FEATURE with FEATURE one of: "
                + ", ".join(sorted(known))
            )
    return names


def feature_selected(names: set[str] | None, profile: str, feature: str) -> bool:
    return names is None or feature in names or qualified(profile, feature) in names
