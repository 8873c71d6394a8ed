"""TrafficPolicy `apiKeyAuth` -> the typed_per_filter_config kgateway emits, or its translation error.

This is the envoy target's own reading of kgateway's control plane, independent of the reference gateway's
(reference_impl/compile/kgateway.py), so that the two can disagree and the local target (the real controller) can
tell which is right: tests/local compares this translation, through a real Envoy's config dump, and each policy's
status with what kgateway sends its Envoy and reports.

It follows kgateway's `constructAPIKeyAuth` (pkg/kgateway/extensions2/plugins/trafficpolicy/api_key_auth.go) and
its SecretIndex (pkg/krtcollections/secrets.go: GetSecret, GetSecretsBySelector), as of the newest API this
project serves (SPEC.md): selectors with `matchExpressions`, one key under two clients refused. Where kgateway
v2.3 words an error otherwise, conformance/differential/known.py says so.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from reference_impl.compile.inventory import Inventory
from reference_impl.compile.status import Condition, accepted, invalid
from reference_impl.http_syntax import header_name_problem
from reference_impl.resources import Secret, TrafficPolicy
from reference_impl.resources.kgateway import KGATEWAY_GROUP, APIKeyAuth

FILTER_NAME = "envoy.filters.http.api_key_auth"
PER_ROUTE_TYPE = "type.googleapis.com/envoy.extensions.filters.http.api_key_auth.v3.ApiKeyAuthPerRoute"
LISTENER_TYPE = "type.googleapis.com/envoy.extensions.filters.http.api_key_auth.v3.ApiKeyAuth"
FILTER_CONFIG_TYPE = "type.googleapis.com/envoy.config.route.v3.FilterConfig"
DEFAULT_KEY_SOURCES: tuple[dict[str, str], ...] = ({"header": "api-key"},)

PolicyKey = tuple[str, str]  # (namespace, name)


class Untranslatable(Exception):
    """kgateway cannot translate the policy; the message is its status message and never holds a key."""


@dataclass(frozen=True)
class PolicyOutcome:
    """One TrafficPolicy that sets apiKeyAuth: its per-filter config (None when invalid) and its status."""

    key: PolicyKey
    order: int  # creation order; the oldest wins among policies at one level
    per_filter: dict[str, Any] | None
    error: str | None
    condition: Condition

    @property
    def valid(self) -> bool:
        return self.error is None


def _granted(inventory: Inventory, namespace: str, secret_namespace: str, name: str) -> bool:
    """Same namespace, or a ReferenceGrant there lets TrafficPolicies of `namespace` reference the Secret."""
    return secret_namespace == namespace or inventory.granted(
        from_group=KGATEWAY_GROUP,
        from_kind="TrafficPolicy",
        from_namespace=namespace,
        to_namespace=secret_namespace,
        to_name=name,
    )


def _referenced_secret(namespace: str, auth: APIKeyAuth, inventory: Inventory) -> list[Secret]:
    """GetSecret: only core Secrets are indexed; another namespace needs a grant; then it must exist."""
    ref = auth.secret_ref
    assert ref is not None
    where = f"{ref.namespace or namespace}/{ref.name}"
    if (ref.group, ref.kind) != ("", "Secret"):
        raise Untranslatable(f"API key secret {ref.name}: internal error looking up secret {where}")
    if not _granted(inventory, namespace, ref.namespace or namespace, ref.name):
        raise Untranslatable(f"cannot reference secret {where} : missing reference grant")
    secret = inventory.secrets.get((ref.namespace or namespace, ref.name))
    if secret is None:
        raise Untranslatable(f"API key secret {ref.name}: Secret {where} not found")
    return [secret]


def _selected_by_labels(namespace: str, auth: APIKeyAuth, inventory: Inventory) -> list[Secret]:
    """GetSecretsBySelector: every Secret the selector matches that the policy may reference; an error only when
    none matches, or when every match lacks its grant."""
    selector = auth.secret_selector
    assert selector is not None
    problem = selector.problem()
    if problem is not None:
        raise Untranslatable(f"failed to get secrets by selector: {problem}")
    matched = [s for _, s in sorted(inventory.secrets.items()) if selector.matches(s.metadata.labels)]
    if not matched:
        raise Untranslatable(f"no secrets found matching selector {selector.go_repr()} in namespace {namespace}")
    allowed = [s for s in matched if _granted(inventory, namespace, s.metadata.namespace, s.metadata.name)]
    if not allowed:
        raise Untranslatable(
            "failed to get secrets by selector: missing reference grant: create a ReferenceGrant in the namespace "
            f'of the referenced Secret allowing references from group "{KGATEWAY_GROUP}" kind "TrafficPolicy" '
            f'in namespace "{namespace}"'
        )
    return allowed


def _credentials(secrets: list[Secret]) -> list[dict[str, str]]:
    """One credential per non-empty entry (client = entry name, key = the value as stored), sorted. The same entry
    in two Secrets is one credential; one key under two clients is refused (Envoy would refuse the whole route
    configuration), naming the clients and Secrets, never the key."""
    holders: dict[str, tuple[str, str]] = {}  # key -> (client, "ns/secret")
    for secret in secrets:
        where = f"{secret.metadata.namespace}/{secret.metadata.name}"
        for client, encoded in sorted(secret.data.items()):
            key = base64.b64decode(encoded).decode("utf-8", errors="replace")
            if not key:
                continue
            first = holders.setdefault(key, (client, where))
            if first[0] != client:
                raise Untranslatable(
                    f'errors processing API key secrets: duplicate API key value shared by client "{first[0]}" '
                    f'in secret {first[1]} and client "{client}" in secret {where}'
                )
    if not holders:
        raise Untranslatable("no valid API keys found in secrets")
    return [{"key": key, "client": client} for key, (client, _) in sorted(holders.items(), key=lambda i: i[1][0])]


def _key_sources(auth: APIKeyAuth) -> list[dict[str, str]]:
    """Each item with every field set (Envoy itself reads header, else query, else cookie); `api-key` if none."""
    sources = []
    for index, item in enumerate(auth.key_sources or ()):
        if item.header is not None and (problem := header_name_problem(item.header)):
            raise Untranslatable(f"spec.apiKeyAuth.keySources[{index}].header: {problem}")
        source = {f: v for f, v in (("header", item.header), ("query", item.query), ("cookie", item.cookie)) if v}
        if source:
            sources.append(source)
    return sources or [dict(s) for s in DEFAULT_KEY_SOURCES]


def per_route_config(policy: TrafficPolicy, auth: APIKeyAuth, inventory: Inventory) -> dict[str, Any]:
    """The ApiKeyAuthPerRoute of a policy with a key source; Untranslatable with kgateway's message if none."""
    namespace = policy.metadata.namespace
    sources = _key_sources(auth)
    forwarding: dict[str, Any] = {"hide_credentials": not auth.forward_credential}
    if auth.client_id_header:
        if problem := header_name_problem(auth.client_id_header):
            raise Untranslatable(f"spec.apiKeyAuth.clientIdHeader: {problem}")
        forwarding["header"] = auth.client_id_header
    if auth.secret_ref is not None:
        secrets = _referenced_secret(namespace, auth, inventory)
    else:
        secrets = _selected_by_labels(namespace, auth, inventory)
    return {
        "@type": PER_ROUTE_TYPE,
        "credentials": _credentials(secrets),
        "key_sources": sources,
        "forwarding": forwarding,
    }


def disabled_config() -> dict[str, Any]:
    return {"@type": FILTER_CONFIG_TYPE, "disabled": True}


def policy_outcomes(inventory: Inventory) -> dict[PolicyKey, PolicyOutcome]:
    """Every TrafficPolicy with apiKeyAuth, translated once; policies without it do not concern this filter."""
    outcomes: dict[PolicyKey, PolicyOutcome] = {}
    for order, policy in enumerate(inventory.traffic_policies):
        auth = policy.spec.api_key_auth
        if auth is None:
            continue
        key = (policy.metadata.namespace, policy.metadata.name)
        if auth.disable is not None:
            outcomes[key] = PolicyOutcome(key, order, disabled_config(), None, accepted())
            continue
        try:
            config = per_route_config(policy, auth, inventory)
        except Untranslatable as error:
            outcomes[key] = PolicyOutcome(key, order, None, str(error), invalid(str(error)))
            continue
        outcomes[key] = PolicyOutcome(key, order, config, None, accepted())
    return outcomes
