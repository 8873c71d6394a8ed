"""AgentgatewayPolicy `traffic.apiKeyAuthentication` -> the key index agentgateway's proxy would hold."""

from __future__ import annotations

import json
import re
from typing import Any

from reference_impl.auth.agentgateway import DEFAULT_LOCATION, AgentgatewayAuth, Location
from reference_impl.auth.keys import Identity, KeyIndex, digest
from reference_impl.compile.inventory import Inventory
from reference_impl.compile.status import Condition, accepted, partially_valid
from reference_impl.resources import AgentgatewayPolicy, ConfigMap, Secret
from reference_impl.resources.agentgateway import Location as LocationSpec

KEY_HASH = re.compile(r"^sha256:([0-9a-fA-F]{64})$")


class EntryError(Exception):
    """One bad entry; it is dropped and the others still apply. Never carries the key value."""


def _parse_entry(kind: str, source: str, entry: str, raw: str) -> tuple[bytes, Identity]:
    value = raw.strip()
    label = f"{kind.lower()} {source} contains invalid key {entry}"
    if not value:
        raise EntryError(f"{label}: empty value")
    if not value.startswith("{"):
        if kind == "ConfigMap":
            raise EntryError(
                f"{label}: keys sourced from a ConfigMap must use keyHash, not a raw key, "
                "since ConfigMaps are not confidential"
            )
        return digest(value), Identity(f"{kind} {source}", entry)
    try:
        document = json.loads(value)
    except json.JSONDecodeError:
        raise EntryError(f"{label}: value is not valid JSON") from None
    if not isinstance(document, dict):
        raise EntryError(f"{label}: JSON value must be an object")
    unknown = set(document) - {"key", "keyHash", "metadata"}
    if unknown:
        raise EntryError(f"{label}: unknown field(s) {', '.join(sorted(unknown))}")
    metadata: Any = document.get("metadata", {})
    if not isinstance(metadata, dict):
        raise EntryError(f"{label}: metadata must be an object")
    has_key, has_hash = "key" in document, "keyHash" in document
    if has_key == has_hash:
        raise EntryError(f"{label}: exactly one of key or keyHash must be set")
    if has_key:
        if kind == "ConfigMap":
            raise EntryError(
                f"{label}: keys sourced from a ConfigMap must use keyHash, not a raw key, "
                "since ConfigMaps are not confidential"
            )
        key = document["key"]
        if not isinstance(key, str) or not key.strip():
            raise EntryError(f"{label}: key must be a non-empty string")
        return digest(key.strip()), Identity(f"{kind} {source}", entry, metadata)
    match = KEY_HASH.match(str(document["keyHash"]))
    if match is None:
        raise EntryError(f"{label}: keyHash must use the sha256:<hex> format with a 64-character hex digest")
    return bytes.fromhex(match.group(1)), Identity(f"{kind} {source}", entry, metadata)


def _location(spec: LocationSpec | None) -> Location | None:
    if spec is None:
        return DEFAULT_LOCATION
    if spec.header is not None:
        # Header values arrive as bytes; a prefix is compared with them in UTF-8, as a Rust str is.
        prefix = spec.header.prefix.encode("utf-8") if spec.header.prefix else None
        return Location("header", spec.header.name.lower().encode("ascii"), prefix)
    if spec.query_parameter is not None:
        return Location("query", spec.query_parameter.name.encode("utf-8"))
    if spec.cookie is not None:
        return Location("cookie", spec.cookie.name.encode("utf-8"))
    return None  # a CEL expression


def _sources(policy: AgentgatewayPolicy, inventory: Inventory) -> tuple[list[Secret | ConfigMap], list[str]]:
    auth = policy.spec.traffic.api_key_authentication  # type: ignore[union-attr]
    namespace = policy.metadata.namespace
    if auth.secret_ref is not None:
        secret = inventory.secrets.get((namespace, auth.secret_ref.name))
        if secret is None:
            return [], [f"API Key secret {namespace}/{auth.secret_ref.name} not found"]
        return [secret], []
    if auth.secret_selector is not None:
        pool: dict = inventory.secrets
        selector = auth.secret_selector
    else:
        pool = inventory.config_maps
        selector = auth.config_map_selector
    found = [r for (ns, _), r in sorted(pool.items()) if ns == namespace and selector.matches(r.metadata.labels)]
    return found, []


def compile_agentgateway_policy(
    policy: AgentgatewayPolicy, inventory: Inventory
) -> tuple[AgentgatewayAuth | None, Condition]:
    traffic = policy.spec.traffic
    auth = traffic.api_key_authentication if traffic else None
    name = f"{policy.metadata.namespace}/{policy.metadata.name}"
    if auth is None:
        return None, accepted()
    location = _location(auth.location)
    resources, problems = _sources(policy, inventory)
    keys: dict[bytes, Identity] = {}
    for resource in resources:
        source = f"{resource.metadata.namespace}/{resource.metadata.name}"
        for entry, raw in sorted(resource.entries().items()):
            try:
                key_digest, identity = _parse_entry(resource.kind, source, entry, raw)
            except EntryError as error:
                problems.append(str(error))
                continue
            keys[key_digest] = identity
    if location is None:
        problems.append("location.expression: CEL key locations are not supported by the reference gateway")
        location = Location("header", b"", None)  # matches no request header: fail closed
    effect = AgentgatewayAuth(mode=auth.mode, location=location, keys=KeyIndex(keys), policy=name)
    if problems:
        return effect, partially_valid("; ".join(problems))
    return effect, accepted()
