"""AgentgatewayPolicy `traffic.apiKeyAuthentication` -> the key index agentgateway's proxy would hold.

Entries are read as agentgateway's controller reads them (`processAPIKeyAuthenticationPolicy` in
controller/pkg/agentgateway/plugins/traffic_plugin.go, v1.4.1): a value whose trimmed form does not start with `{`
is a raw key used untrimmed; otherwise Go's `json.Unmarshal` into {key, keyHash, metadata}. Every bad entry is
one error `<kind> <name> contains invalid key <entry>: <why>` (kind `secret` or `configMap`, the bare name); the
errors are joined with newlines into a PartiallyValid status while the valid entries still apply.
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass
from typing import Any

from reference_impl.auth.agentgateway import DEFAULT_LOCATION, AgentgatewayAuth, Location
from reference_impl.auth.keys import Identity, KeyIndex, digest
from reference_impl.compile.gojson import GoJSONError, go_rune, struct_value, trim_space, unmarshal_struct
from reference_impl.compile.inventory import Inventory
from reference_impl.compile.status import Condition, accepted, partially_valid
from reference_impl.resources import AgentgatewayPolicy
from reference_impl.resources.agentgateway import Location as LocationSpec

KEY_HASH_PREFIX = "sha256:"
ENTRY_FIELDS = {"key": "string", "keyHash": "string", "metadata": "raw"}
CONFIG_MAP_RAW_KEY = (
    "keys sourced from a ConfigMap must use keyHash, not a raw key, since ConfigMaps are not confidential"
)


class EntryError(Exception):
    """One bad entry; it is dropped and the others still apply. Never carries the key value."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One valid entry: what agentgateway sorts its key list by (key, keyHash), then the identity it maps to."""

    key: bytes
    key_hash: str
    digest: bytes
    identity: Identity


def _hex_problem(text: str) -> str | None:
    """Go's hex.DecodeString error for `text`, or None."""
    data = text.encode("utf-8")
    for byte in data[: len(data) - len(data) % 2]:
        if chr(byte) not in "0123456789abcdefABCDEF":
            return f"encoding/hex: invalid byte: {go_rune(chr(byte))}"
    if len(data) % 2:
        if chr(data[-1]) not in "0123456789abcdefABCDEF":
            return f"encoding/hex: invalid byte: {go_rune(chr(data[-1]))}"
        return "encoding/hex: odd length hex string"
    return None


def _hash_digest(key_hash: str) -> bytes:
    if not key_hash.startswith(KEY_HASH_PREFIX):
        raise EntryError(f"keyHash must use the {KEY_HASH_PREFIX}<hex> format")
    hex_digits = key_hash[len(KEY_HASH_PREFIX) :]
    problem = _hex_problem(hex_digits)
    if problem is not None:
        raise EntryError(f"keyHash must contain a valid sha256 hex digest: {problem}")
    if len(hex_digits) != 64:
        raise EntryError("keyHash sha256 digest must decode to 32 bytes")
    return binascii.unhexlify(hex_digits)  # upper-case hex is the same digest (the proxy lower-cases it)


def parse_entry(kind: str, value: bytes) -> tuple[bytes, str, bytes, dict[str, Any]]:
    """(key, keyHash, digest, metadata) of one entry, or EntryError with upstream's reason."""
    trimmed = trim_space(value)
    if not trimmed:
        raise EntryError("empty value")
    raw_metadata: Any = None
    has_metadata = False
    if trimmed[:1] != b"{":
        key, key_hash = value, ""  # a raw key, used as is: a trailing newline is part of it
    else:
        try:
            fields = unmarshal_struct(trimmed, "APIKeyEntry", ENTRY_FIELDS)
        except GoJSONError as error:
            raise EntryError(str(error)) from None
        key, key_hash = fields.get("key", "").encode("utf-8"), fields.get("keyHash", "")
        raw_metadata, has_metadata = fields.get("metadata"), "metadata" in fields
    if (key == b"") == (key_hash == ""):
        raise EntryError("exactly one of key or keyHash must be set")
    if kind == "configMap" and key:
        raise EntryError(CONFIG_MAP_RAW_KEY)
    key_digest = _hash_digest(key_hash) if key_hash else digest(key)
    try:
        metadata = struct_value(raw_metadata, has_metadata)
    except GoJSONError as error:
        raise EntryError(str(error)) from None
    return key, key_hash, key_digest, metadata


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


# (kind as agentgateway names it in errors, name, namespace, entries as bytes)
DataSet = tuple[str, str, str, dict[str, bytes]]


def _data_sets(policy: AgentgatewayPolicy, inventory: Inventory) -> tuple[list[DataSet], list[str]]:
    auth = policy.spec.traffic.api_key_authentication  # type: ignore[union-attr]
    namespace = policy.metadata.namespace
    if auth.secret_ref is not None:
        ref = auth.secret_ref
        if not ref.is_secret:  # the open-source controller resolves only core Secrets
            return [], [f'unsupported credential kind: "{ref.group}"/"{ref.kind}"']
        secret = inventory.secrets.get((namespace, ref.name))
        if secret is None:
            return [], [f"secret {namespace}/{ref.name} not found"]
        return [("secret", ref.name, namespace, secret.raw_entries())], []
    if auth.secret_selector is not None:
        return [
            ("secret", s.metadata.name, ns, s.raw_entries())
            for (ns, _), s in sorted(inventory.secrets.items())
            if ns == namespace and auth.secret_selector.matches(s.metadata.labels)
        ], []
    selector = auth.config_map_selector
    assert selector is not None
    return [
        ("configMap", c.metadata.name, ns, {k: v.encode("utf-8") for k, v in c.entries().items()})
        for (ns, _), c in sorted(inventory.config_maps.items())
        if ns == namespace and selector.matches(c.metadata.labels)
    ], []


def _index(entries: list[Entry]) -> tuple[dict[bytes, Identity], list[str]]:
    """agentgateway sorts its key list by (key, keyHash) and its proxy keeps the last entry per digest, silently:
    hash entries sort before raw keys, so a raw key wins over a keyHash of the same key. Ties (the same key in
    two entries) have no order upstream; here the later entry in Secret/entry-name order wins. Duplicates are
    reported by entry name only."""
    ordered = sorted(entries, key=lambda e: (e.key, e.key_hash))  # stable: ties keep Secret/entry order
    keys: dict[bytes, Identity] = {}
    shared: dict[bytes, list[Identity]] = {}
    for entry in ordered:
        if entry.digest in keys:
            shared.setdefault(entry.digest, [keys[entry.digest]]).append(entry.identity)
        keys[entry.digest] = entry.identity
    notes = [
        f"the same key is in {', '.join(_where(i) for i in identities)}; {_where(identities[-1])} identifies callers"
        for identities in shared.values()
    ]
    return keys, notes


def _where(identity: Identity) -> str:
    return f"{identity.source} entry {identity.entry}"


def compile_agentgateway_policy(
    policy: AgentgatewayPolicy, inventory: Inventory
) -> tuple[AgentgatewayAuth | None, Condition]:
    traffic = policy.spec.traffic
    auth = traffic.api_key_authentication if traffic else None
    name = f"{policy.metadata.namespace}/{policy.metadata.name}"
    if auth is None:
        return None, accepted()
    location = _location(auth.location)
    problems: list[str] = []
    if location is None:
        problems.append("location.expression: CEL key locations are not supported by the reference gateway")
        location = Location("header", b"", None)  # matches no request header: fail closed
    data_sets, errors = _data_sets(policy, inventory)
    problems += errors
    entries: list[Entry] = []
    for kind, source, namespace, data in data_sets:
        for entry_name, value in sorted(data.items()):
            try:
                key, key_hash, key_digest, metadata = parse_entry(kind, value)
            except EntryError as error:
                problems.append(f"{kind} {source} contains invalid key {entry_name}: {error}")
                continue
            identity = Identity(f"{kind} {namespace}/{source}", entry_name, metadata)
            entries.append(Entry(key, key_hash, key_digest, identity))
    keys, duplicates = _index(entries)
    effect = AgentgatewayAuth(mode=auth.mode, location=location, keys=KeyIndex(keys), policy=name)
    # Upstream reports duplicates nowhere; the reference adds them to the message, status and reason unchanged.
    if problems:
        return effect, partially_valid("\n".join(problems + duplicates))
    if duplicates:
        return effect, accepted("Policy accepted\n" + "\n".join(duplicates))
    return effect, accepted()
