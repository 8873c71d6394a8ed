"""Generated agentgateway worlds: Secrets with raw, JSON and hashed entries, ConfigMaps of hashes, and
AgentgatewayPolicies with every mode and location, attached at every level agentgateway supports.

Policies are valid for agentgateway v1.4 (the pinned release) and no two share a target, but now and then a store
holds one entry agentgateway drops (each way its controller refuses one: empty, bad JSON, both or neither of `key`
and `keyHash`, a bad hash, metadata that is not an object, a raw key in a ConfigMap) and a policy names a Secret or
labels nothing has (MISSING): the policy is then PartiallyValid and keeps its valid keys, which the status and
translation comparisons check.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from hypothesis import strategies as st

from conformance.differential.model import Case, RequestOutcome
from conformance.differential.traffic import Surface, keys, requests_for
from conformance.differential.world import HOST, PATHS, route, share_out, store, target_ref
from conformance.profiles import PROFILES

PROFILE = PROFILES["agentgateway"]
NAMESPACE = PROFILE.gateway_namespace
GATEWAY = PROFILE.gateway_name
LEVELS = ("gateway", "listener", "route", "rule-a", "rule-b")
MODES = (None, "Strict", "Optional", "Permissive")
HEADERS = ("Authorization", "x-api-key", "X-Key")
PREFIXES = (None, "Bearer ", "Key ", "token=")
PARAMS = ("api_key", "key")
COOKIES = ("api_key", "session")
ENTRY_NAMES = ("alice", "bob", "carol", "dave")
DEFAULT_LOCATION = {"header": {"name": "Authorization", "prefix": "Bearer "}}
MISSING = "keys-missing"  # no generated Secret or ConfigMap has this name or `set` label
BAD_ENTRY = "zoe"  # the name of a store's one invalid entry
_HASH = "sha256:" + "ab" * 32
# Entries agentgateway's controller drops, each with its own error (traffic_plugin.go, processAPIKeyAuthentication
# Policy); none of them is a key any request presents.
BAD_ENTRIES = (
    "",
    "  \t ",
    "{not json",
    "{}",
    '{"metadata": {"team": "a"}}',
    f'{{"key": "both-set", "keyHash": "{_HASH}"}}',
    '{"key": 7}',
    '{"keyHash": "md5:abc"}',
    '{"keyHash": "sha256:zz"}',
    '{"keyHash": "sha256:abc"}',
    f'{{"keyHash": "{_HASH}", "metadata": "text"}}',
)


def _entry(draw: st.DrawFn, key: str, hashed_only: bool) -> str:
    """A raw key, a JSON entry with the key, or one with only its SHA-256 (with or without metadata)."""
    form = "hash" if hashed_only else draw(st.sampled_from(("raw", "json", "hash")))
    if form == "raw":
        return key
    metadata = draw(st.sampled_from((None, {"team": "a"}, {"name": "svc"})))
    hexdigest = hashlib.sha256(key.encode("utf-8")).hexdigest()
    entry: dict[str, Any] = {"key": key} if form == "json" else {"keyHash": f"sha256:{draw(_case(hexdigest))}"}
    if metadata is not None:
        entry["metadata"] = metadata
    return json.dumps(entry)


def _case(hexdigest: str) -> st.SearchStrategy[str]:
    return st.sampled_from((hexdigest, hexdigest.upper()))  # upper-case hex is accepted too


def _stores(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[str]]:
    """One to three Secrets or ConfigMaps (labelled set a/b), and every key they accept."""
    count = draw(st.integers(1, 3))
    values = draw(keys(min_size=count, max_size=count + 3))
    stores = []
    for index, group in enumerate(share_out(draw, values, count)):
        config_map = draw(st.integers(0, 3)) == 0
        names = draw(st.lists(st.sampled_from(ENTRY_NAMES), min_size=len(group), max_size=len(group), unique=True))
        entries = {n: _entry(draw, k, config_map) for n, k in zip(names, group, strict=True)}
        if draw(st.integers(0, 4)) == 0:
            bad = (*BAD_ENTRIES, "raw-key-in-a-config-map") if config_map else BAD_ENTRIES
            entries[BAD_ENTRY] = draw(st.sampled_from(bad))
        stores.append(store("ConfigMap" if config_map else "Secret", NAMESPACE, index, entries))
    return stores, values


def _authentication(draw: st.DrawFn, stores: list[dict[str, Any]]) -> dict[str, Any]:
    auth: dict[str, Any] = {}
    mode = draw(st.sampled_from(MODES))
    if mode is not None:
        auth["mode"] = mode
    secrets = [s for s in stores if s["kind"] == "Secret"]
    choices = ["secretRef", "secretSelector"] if secrets else []
    choices += ["configMapSelector"] if len(secrets) < len(stores) else []
    how = draw(st.sampled_from(choices))
    missing = draw(st.integers(0, 9)) == 0
    if how == "secretRef":
        names = [MISSING] if missing else [s["metadata"]["name"] for s in secrets]
        auth["secretRef"] = {"name": draw(st.sampled_from(names))}
    else:
        kind = "Secret" if how == "secretSelector" else "ConfigMap"
        labels = [MISSING] if missing else sorted({s["metadata"]["labels"]["set"] for s in stores if s["kind"] == kind})
        auth[how] = {"matchLabels": {"set": draw(st.sampled_from(labels))}}
    location = draw(st.sampled_from((None, "header", "queryParameter", "cookie")))
    if location == "header":
        header: dict[str, str] = {"name": draw(st.sampled_from(HEADERS))}
        prefix = draw(st.sampled_from(PREFIXES))
        if prefix is not None:
            header["prefix"] = prefix
        auth["location"] = {"header": header}
    elif location is not None:
        auth["location"] = {
            location: {"name": draw(st.sampled_from(PARAMS if location == "queryParameter" else COOKIES))}
        }
    return auth


@st.composite
def worlds(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[str]]:
    """The manifests, and every key they accept (a client presents the key behind a hash, never the hash)."""
    stores, accepted = _stores(draw)
    levels = draw(st.lists(st.sampled_from(LEVELS), min_size=1, max_size=3, unique=True))
    policies = [
        {
            "apiVersion": "agentgateway.dev/v1alpha1",
            "kind": "AgentgatewayPolicy",
            "metadata": {"name": f"auth-{level}", "namespace": NAMESPACE},
            "spec": {
                "targetRefs": [target_ref(level, GATEWAY)],
                "traffic": {"apiKeyAuthentication": _authentication(draw, stores)},
            },
        }
        for level in levels
    ]
    return [*stores, route(NAMESPACE, GATEWAY), *policies], accepted


def surface(manifests: list[dict[str, Any]], accepted: list[str]) -> Surface:
    headers, prefixes, params, cookies = set(), set(), set(), set()
    for manifest in manifests:
        if manifest["kind"] != "AgentgatewayPolicy":
            continue
        location = manifest["spec"]["traffic"]["apiKeyAuthentication"].get("location") or DEFAULT_LOCATION
        if "header" in location:
            headers.add(location["header"]["name"])
            prefixes.add(location["header"].get("prefix") or "Bearer ")
        params.update([location["queryParameter"]["name"]] if "queryParameter" in location else [])
        cookies.update([location["cookie"]["name"]] if "cookie" in location else [])
    return Surface(
        host=HOST,
        paths=PATHS,
        keys=tuple(accepted),
        headers=tuple(sorted(headers)),
        params=tuple(sorted(params)),
        cookies=tuple(sorted(cookies)),
        prefixes=tuple(sorted(prefixes)) or ("Bearer ",),
    )


@st.composite
def cases(draw: st.DrawFn, max_requests: int = 4) -> Case:
    manifests, accepted = draw(worlds())
    requests = draw(st.lists(requests_for(surface(manifests, accepted)), min_size=1, max_size=max_requests))
    return Case("agentgateway", tuple(manifests), tuple(requests))


def feature_tag(case: Case, outcome: RequestOutcome) -> str:
    auths = [m["spec"]["traffic"]["apiKeyAuthentication"] for m in case.manifests if m["kind"] == "AgentgatewayPolicy"]
    values = [str(v) for m in case.manifests for v in (m.get("stringData") or m.get("data") or {}).values()]
    locations = [auth.get("location") or DEFAULT_LOCATION for auth in auths]
    aspects = {d.aspect for d in outcome.unexplained or outcome.differences}
    checks = (
        ("APIKeyAuthPermissiveMode", any(auth.get("mode") == "Permissive" for auth in auths)),
        ("APIKeyAuthOptionalMode", any(auth.get("mode") == "Optional" for auth in auths)),
        ("APIKeyAuthMissingSecret", any(MISSING in str(auth) for auth in auths)),
        ("APIKeyAuthQuerySource", "upstream query" in aspects or any("queryParameter" in loc for loc in locations)),
        ("APIKeyAuthCookieSource", any("cookie" in loc for loc in locations)),
        ("APIKeyAuthHashedKeys", any('"keyHash"' in v for v in values)),
        ("APIKeyAuthKeyMetadata", any(v.startswith("{") for v in values)),
        ("APIKeyAuthBearerPrefix", any("prefix" in loc.get("header", {}) for loc in locations)),
        ("APIKeyAuthSecretSelector", any("secretSelector" in auth or "configMapSelector" in auth for auth in auths)),
        ("APIKeyAuthRouteOverride", len(auths) > 1),
        (
            "APIKeyAuthSectionName",
            any(m["metadata"]["name"].startswith(("auth-rule", "auth-listener")) for m in case.manifests),
        ),
        ("APIKeyAuthCustomHeader", any("header" in loc and loc != DEFAULT_LOCATION for loc in locations)),
    )
    return next((tag for tag, applies in checks if applies), "APIKeyAuth")
