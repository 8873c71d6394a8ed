"""What an AgentgatewayPolicy's `apiKeyAuthentication` translates to, as agentgateway's proxy would hold it: one
entry per (policy, target) with the mode, the key location and the keys, each key by a prefix of its SHA-256 (never
the key) with its metadata.

Two sides are projected to that form and compared: what the real controller serves a Gateway's proxies over xDS
(conformance/local/agentgateway.py `read_xds`; the `traffic.apiKeyAuth` of its policy resources) and what the
reference gateway compiled (reference_impl/compile/agentgateway.py). Upstream facts the xDS side follows
(agentgateway v1.4.1):
- the controller sorts its key list by (key, keyHash) and the proxy keeps the last entry per key, so a raw key
  wins over a keyHash of the same key; entries with the same key string have no order, so any of their metadata
  may be the one kept (`Translation.keys` holds each candidate);
- an unset mode is the proto's zero value, STRICT; an unset location is the proxy's default, the Authorization
  header with prefix `Bearer ` (crates/protos/proto/resource.proto; controller/pkg/agentgateway/plugins/
  traffic_plugin.go processAPIKeyAuthenticationPolicy).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from conformance.differential.model import Difference
from reference_impl.auth.agentgateway import DEFAULT_LOCATION, AgentgatewayAuth, Location
from reference_impl.compile.agentgateway import compile_agentgateway_policy
from reference_impl.compile.inventory import Inventory

GATEWAY_GROUP = "gateway.networking.k8s.io"
DIGEST_SHOWN = 16  # hex digits of a key's SHA-256 that name it: enough to tell keys apart, not to recover one
XDS_MODES = {None: "Strict", "STRICT": "Strict", "OPTIONAL": "Optional", "PERMISSIVE": "Permissive"}


@dataclass(frozen=True)
class Translation:
    """One policy's API key auth at one target."""

    mode: str
    location: str
    keys: Mapping[str, frozenset[str]]  # "sha256:<prefix>" -> the metadata (canonical JSON) it may carry

    def shown_keys(self, names: Iterable[str]) -> str:
        return ", ".join(f"{name} {'|'.join(sorted(self.keys[name]))}" for name in sorted(names)) or "none"


Translations = dict[str, Translation]  # "<policy> at <target>" -> its translation


# -- the xDS side ------------------------------------------------------------------------------------------------
def from_xds(dump: Mapping[str, Any]) -> Translations:
    """The apiKeyAuth policies of a read_xds dump, by policy and target."""
    found: Translations = {}
    for resource in (dump.get("resources") or {}).values():
        policy = resource.get("policy") if isinstance(resource, dict) else None
        auth = ((policy or {}).get("traffic") or {}).get("apiKeyAuth")
        if auth is None:
            continue
        assert policy is not None
        name = policy.get("name") or {}
        label = f"{name.get('kind')} {name.get('namespace')}/{name.get('name')} at {_xds_target(policy.get('target'))}"
        found[label] = Translation(
            XDS_MODES.get(auth.get("mode"), str(auth.get("mode"))),
            _xds_location(auth.get("authorizationLocation")),
            _xds_keys(auth.get("apiKeys") or []),
        )
    return found


def _xds_target(target: Any) -> str:
    target = target or {}
    if "route" in target:
        route = target["route"]
        rule = f"/{route['routeRule']}" if route.get("routeRule") else ""
        return f"{route.get('kind', 'HTTPRoute')} {route.get('namespace')}/{route.get('name')}{rule}"
    if "gateway" in target:
        gateway = target["gateway"]
        listener = f"/{gateway['listener']}" if gateway.get("listener") else ""
        return f"Gateway {gateway.get('namespace')}/{gateway.get('name')}{listener}"
    return f"unsupported target {json.dumps(target, sort_keys=True)}"


def _xds_location(location: Mapping[str, Any] | None) -> str:
    if not location:
        return _location(DEFAULT_LOCATION)
    if "header" in location:
        header = location["header"]
        prefix = header.get("prefix")
        return _location(Location("header", header["name"].lower().encode(), prefix.encode() if prefix else None))
    if "queryParameter" in location:
        return _location(Location("query", location["queryParameter"]["name"].encode()))
    if "cookie" in location:
        return _location(Location("cookie", location["cookie"]["name"].encode()))
    return f"expression {location.get('expression')!r}"


def _xds_keys(entries: list[Mapping[str, Any]]) -> dict[str, frozenset[str]]:
    """The proxy's view: the last entry per key wins; entries with the same key string are in no set order."""
    kept: dict[str, tuple[tuple[str, str], frozenset[str]]] = {}
    for entry in entries:
        key, key_hash = entry.get("key") or "", entry.get("keyHash") or ""
        digest = hashlib.sha256(key.encode()).hexdigest() if key else key_hash.removeprefix("sha256:").lower()
        name, metadata, order = _key_name(digest), _metadata(entry.get("metadata")), (key, key_hash)
        previous = kept.get(name)
        tied = previous is not None and previous[0] == order
        kept[name] = (order, previous[1] | {metadata} if tied and previous else frozenset({metadata}))
    return {name: metadata for name, (_, metadata) in kept.items()}


# -- the reference side ----------------------------------------------------------------------------------------
def from_reference(inventory: Inventory) -> Translations:
    """What the reference gateway compiles each AgentgatewayPolicy with apiKeyAuthentication to, at each of its
    targets that exists (a Gateway, a listener of it, an HTTPRoute, a rule of it)."""
    found: Translations = {}
    for policy in inventory.agentgateway_policies:
        effect, _ = compile_agentgateway_policy(policy, inventory)
        if not isinstance(effect, AgentgatewayAuth):
            continue
        namespace = policy.metadata.namespace
        translation = Translation(
            effect.mode,
            _location(effect.location),
            {
                _key_name(digest.hex()): frozenset({_metadata(identity.metadata)})
                for digest, identity in effect.keys.by_digest.items()
            },
        )
        for ref in policy.spec.target_refs:
            if ref.group != GATEWAY_GROUP or not _exists(inventory, ref.kind, namespace, ref.name):
                continue
            section = f"/{ref.section_name}" if ref.section_name else ""
            label = f"AgentgatewayPolicy {namespace}/{policy.metadata.name} at {ref.kind} {namespace}/{ref.name}"
            found[label + section] = translation
    return found


def _exists(inventory: Inventory, kind: str, namespace: str, name: str) -> bool:
    objects: Mapping[tuple[str, str], Any] = {"Gateway": inventory.gateways, "HTTPRoute": inventory.routes}.get(
        kind, {}
    )
    return (namespace, name) in objects


# -- both ----------------------------------------------------------------------------------------------------------
def _location(location: Location) -> str:
    prefix = f" prefix {location.prefix.decode(errors='replace')!r}" if location.prefix else ""
    return f"{location.kind} {location.name.decode(errors='replace')!r}{prefix}"


def _key_name(digest_hex: str) -> str:
    return f"sha256:{digest_hex[:DIGEST_SHOWN]}"


def _metadata(value: Any) -> str:
    """Canonical JSON; a whole number is the same whether a side holds it as an integer or (protobuf) a double."""

    def canonical(item: Any) -> Any:
        if isinstance(item, float) and item.is_integer():
            return int(item)
        if isinstance(item, dict):
            return {k: canonical(v) for k, v in item.items()}
        if isinstance(item, list):
            return [canonical(v) for v in item]
        return item

    return json.dumps(canonical(value or {}), sort_keys=True, separators=(",", ":"))


def translation_differences(a: Translations, b: Translations) -> list[Difference]:
    """Where two sides' translations differ: a (policy, target) only one side has, its mode, its location, keys
    only one side holds, or a key's metadata (equal when the sides share a candidate)."""
    found: list[Difference] = []
    for label in sorted(a.keys() | b.keys()):
        x, y = a.get(label), b.get(label)
        if x is None or y is None:
            found.append(Difference("translation", "present" if x else "absent", "present" if y else "absent", label))
            continue
        if x.mode != y.mode:
            found.append(Difference("translation mode", x.mode, y.mode, label))
        if x.location != y.location:
            found.append(Difference("translation location", x.location, y.location, label))
        only_a, only_b = x.keys.keys() - y.keys.keys(), y.keys.keys() - x.keys.keys()
        if only_a or only_b:
            found.append(Difference("translation keys", x.shown_keys(only_a), y.shown_keys(only_b), label))
        changed = [name for name in x.keys.keys() & y.keys.keys() if not x.keys[name] & y.keys[name]]
        if changed:
            found.append(Difference("translation metadata", x.shown_keys(changed), y.shown_keys(changed), label))
    return found
