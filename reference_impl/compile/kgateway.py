"""TrafficPolicy `apiKeyAuth` -> what Envoy's api_key_auth filter would get, or kgateway's translation error."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from reference_impl.auth.decision import Deny
from reference_impl.auth.keys import KeyIndex
from reference_impl.auth.kgateway import DENY_INVALID_POLICY, KgatewayAuth, Source
from reference_impl.compile.inventory import Inventory
from reference_impl.compile.status import Condition, accepted, invalid
from reference_impl.http_syntax import header_name_problem
from reference_impl.resources import Secret, TrafficPolicy
from reference_impl.resources.kgateway import KGATEWAY_GROUP, APIKeyAuth, KeySource

DEFAULT_SOURCES = (Source("header", b"api-key"),)


@dataclass(frozen=True, slots=True)
class Disabled:
    """`disable: {}`: auth is off for this policy's scope."""

    policy: str


KgatewayEffect = KgatewayAuth | Disabled | Deny


class TranslationError(Exception):
    """kgateway could not translate the policy. The message never carries a key value."""


def _selected_secrets(policy: TrafficPolicy, auth: APIKeyAuth, inventory: Inventory) -> list[Secret]:
    namespace = policy.metadata.namespace
    if auth.secret_ref is not None:
        ref_ns = auth.secret_ref.namespace or namespace
        name = auth.secret_ref.name
        if (auth.secret_ref.group, auth.secret_ref.kind) != ("", "Secret"):
            # The CRD admits any group/kind; kgateway only indexes core Secrets and fails the lookup.
            raise TranslationError(f"API key secret {name}: internal error looking up secret {ref_ns}/{name}")
        if ref_ns != namespace and not inventory.granted(
            from_group=KGATEWAY_GROUP,
            from_kind="TrafficPolicy",
            from_namespace=namespace,
            to_namespace=ref_ns,
            to_name=name,
        ):
            raise TranslationError(f"cannot reference secret {ref_ns}/{name} : missing reference grant")
        secret = inventory.secrets.get((ref_ns, name))
        if secret is None:
            raise TranslationError(f"API key secret {name}: Secret {ref_ns}/{name} not found")
        return [secret]

    assert auth.secret_selector is not None
    selector = auth.secret_selector
    problem = selector.problem()
    if problem is not None:
        raise TranslationError(f"failed to get secrets by selector: {problem}")
    matched = [s for _, s in sorted(inventory.secrets.items()) if selector.matches(s.metadata.labels)]
    if not matched:
        raise TranslationError(f"no secrets found matching selector {selector.go_repr()} in namespace {namespace}")
    allowed = [
        s
        for s in matched
        if s.metadata.namespace == namespace
        or inventory.granted(
            from_group=KGATEWAY_GROUP,
            from_kind="TrafficPolicy",
            from_namespace=namespace,
            to_namespace=s.metadata.namespace,
            to_name=s.metadata.name,
        )
    ]
    if not allowed:  # kgateway's wording since 2.4 (translator golden api-key-auth-selector-no-matching-secret)
        raise TranslationError(
            "failed to get secrets by selector: missing reference grant: create a ReferenceGrant in the namespace "
            f'of the referenced Secret allowing references from group "{KGATEWAY_GROUP}" kind "TrafficPolicy" '
            f'in namespace "{namespace}"'
        )
    return allowed


def _credentials(secrets: list[Secret]) -> dict[bytes, str]:
    """Every non-empty entry is one credential: client = entry name, key = value verbatim. The same (client, key)
    twice collapses; one key under two clients is an error naming both clients and both Secrets, never the key."""
    by_digest: dict[bytes, str] = {}
    for secret in secrets:  # written for 100,000 entries: one hash and one dict operation each
        entries = secret.entries()
        for client in sorted(entries):
            key = entries[client]
            if not key:
                continue
            known = by_digest.setdefault(hashlib.sha256(key.encode("utf-8")).digest(), client)
            if known != client:
                first, second = _holders(secrets, key, known), _holders(secrets, key, client)
                raise TranslationError(
                    f'errors processing API key secrets: duplicate API key value shared by client "{known}" '
                    f'in secret {first} and client "{client}" in secret {second}'
                )
    if not by_digest:
        raise TranslationError("no valid API keys found in secrets")
    return by_digest


def _holders(secrets: list[Secret], key: str, client: str) -> str:
    """The first Secret ("ns/name") holding `key` under `client` (only looked up to report a conflict)."""
    return next(f"{s.metadata.namespace}/{s.metadata.name}" for s in secrets if s.entries().get(client) == key)


def _header_name(field: str, name: str) -> bytes:
    """A header name as the data plane needs it; one it cannot use fails translation (never a crash per request)."""
    problem = header_name_problem(name)
    if problem:
        raise TranslationError(f"{field}: {problem}")
    return name.lower().encode("ascii")


def _source(index: int, item: KeySource) -> Source:  # one keySources item: header, else query, else cookie
    if item.header is not None:
        return Source("header", _header_name(f"spec.apiKeyAuth.keySources[{index}].header", item.header))
    if item.query is not None:
        return Source("query", item.query.encode("utf-8"))
    return Source("cookie", item.cookie.encode("utf-8"))


def compile_traffic_policy(policy: TrafficPolicy, inventory: Inventory) -> tuple[KgatewayEffect | None, Condition]:
    """The policy's effect on the routes it attaches to (None if it has no apiKeyAuth) and its status."""
    auth = policy.spec.api_key_auth
    name = f"{policy.metadata.namespace}/{policy.metadata.name}"
    if auth is None:
        return None, accepted()
    if auth.disable is not None:
        return Disabled(name), accepted()
    try:
        sources = tuple(_source(i, item) for i, item in enumerate(auth.key_sources or ())) or DEFAULT_SOURCES
        client_id_header = (
            _header_name("spec.apiKeyAuth.clientIdHeader", auth.client_id_header) if auth.client_id_header else None
        )
        clients = _credentials(_selected_secrets(policy, auth, inventory))
    except TranslationError as error:
        return DENY_INVALID_POLICY, invalid(str(error))
    effect = KgatewayAuth(
        sources=sources,
        clients=KeyIndex(clients),
        forward_credential=bool(auth.forward_credential),
        client_id_header=client_id_header,
        policy=name,
    )
    return effect, accepted()
