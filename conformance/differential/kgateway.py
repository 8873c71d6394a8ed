"""Generated kgateway worlds: Secrets, an HTTPRoute with named rules, and TrafficPolicies at every level.

Every generated policy is admitted by the CRD, and most translate: Secrets hold distinct keys, and no two policies
share one target (kgateway would pick the oldest, and creation order is not something two gateways can be made to
agree on). Now and then a policy names a Secret that does not exist or a label no Secret has, so that the status
of a policy that cannot be applied, and the traffic it fails closed, are compared too. Names come from small pools
so that sources, neighbours and spoofed identities collide often.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from conformance.differential.compare import header_roles
from conformance.differential.model import Case, RequestOutcome
from conformance.differential.traffic import Surface, keys, requests_for
from conformance.differential.world import HOST, PATHS, RULES, route, share_out, store, target_ref
from conformance.profiles import PROFILES

PROFILE = PROFILES["kgateway"]
NAMESPACE = PROFILE.gateway_namespace
GATEWAY = PROFILE.gateway_name
POLICY_GROUP = "gateway.kgateway.dev"
HEADER_SOURCES = ("api-key", "x-api-key", "Authorization", "X-Key")
QUERY_SOURCES = ("api_key", "key", "token", "api-key")
COOKIE_SOURCES = ("api_key", "session", "token")
CLIENT_ID_HEADERS = ("x-client-id", "X-Client", "x-api-key")
CLIENTS = ("alice", "bob", "carol", "dave")
MISSING = "keys-missing"  # no generated Secret has this name or `set` label
#: Where a policy attaches: the Gateway, its listener, the route, one rule by sectionName or by ExtensionRef.
LEVELS = ("gateway", "listener", "route", "rule-a", "rule-b", "extref-a", "extref-b")
#: What each level attaches to: a rule's sectionName policy and its ExtensionRef policy guard the same rule.
TARGET_OF = {level: level[-1] if "-" in level else level for level in LEVELS}


def _secrets(draw: st.DrawFn) -> list[dict[str, Any]]:
    count = draw(st.integers(1, 3))
    groups = share_out(draw, draw(keys(min_size=count, max_size=count + 3)), count)
    secrets = []
    for index, values in enumerate(groups):
        clients = draw(st.lists(st.sampled_from(CLIENTS), min_size=len(values), max_size=len(values), unique=True))
        secrets.append(store("Secret", NAMESPACE, index, dict(zip(clients, values, strict=True))))
    return secrets


def _key_sources(draw: st.DrawFn) -> list[dict[str, str]] | None:
    if draw(st.booleans()):
        return None  # the default: header api-key
    items = []
    for _ in range(draw(st.integers(1, 3))):
        fields = draw(st.lists(st.sampled_from(("header", "query", "cookie")), min_size=1, max_size=3, unique=True))
        pools = {"header": HEADER_SOURCES, "query": QUERY_SOURCES, "cookie": COOKIE_SOURCES}
        items.append({f: draw(st.sampled_from(pools[f])) for f in ("header", "query", "cookie") if f in fields})
    return items


def _auth(draw: st.DrawFn, secrets: list[dict[str, Any]]) -> dict[str, Any]:
    if draw(st.integers(0, 5)) == 0:
        return {"disable": {}}
    auth: dict[str, Any] = {}
    missing = draw(st.integers(0, 7)) == 0
    if draw(st.booleans()):
        names = [MISSING] if missing else [s["metadata"]["name"] for s in secrets]
        auth["secretRef"] = {"name": draw(st.sampled_from(names))}
    else:
        labels = [MISSING] if missing else sorted({s["metadata"]["labels"]["set"] for s in secrets})
        auth["secretSelector"] = {"matchLabels": {"set": draw(st.sampled_from(labels))}}
    sources = _key_sources(draw)
    if sources is not None:
        auth["keySources"] = sources
    forward = draw(st.sampled_from((None, True, False)))
    if forward is not None:
        auth["forwardCredential"] = forward
    client_id = draw(st.sampled_from((None, *CLIENT_ID_HEADERS)))
    if client_id is not None:
        auth["clientIdHeader"] = client_id
    return auth


def _target_refs(level: str) -> list[dict[str, Any]]:
    return [] if level.startswith("extref-") else [target_ref(level, GATEWAY)]  # extref: the rule's filter


def _extension_ref(name: str) -> list[dict[str, Any]]:
    return [{"type": "ExtensionRef", "extensionRef": {"group": POLICY_GROUP, "kind": "TrafficPolicy", "name": name}}]


@st.composite
def worlds(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Secrets, the route, and one to three policies on distinct targets (rule-a and extref-a are one target)."""
    secrets = _secrets(draw)
    levels = draw(st.lists(st.sampled_from(LEVELS), min_size=1, max_size=3, unique_by=TARGET_OF.get))
    policies, filters = [], {}
    for level in levels:
        name = f"auth-{level}"
        spec: dict[str, Any] = {"apiKeyAuth": _auth(draw, secrets)}
        refs = _target_refs(level)
        if refs:
            spec = {"targetRefs": refs, **spec}
        else:
            filters["rule-" + level[-1]] = _extension_ref(name)
        policies.append(
            {
                "apiVersion": f"{POLICY_GROUP}/v1alpha1",
                "kind": "TrafficPolicy",
                "metadata": {"name": name, "namespace": NAMESPACE},
                "spec": spec,
            }
        )
    return [*secrets, route(NAMESPACE, GATEWAY, filters), *policies]


def surface(manifests: list[dict[str, Any]]) -> Surface:
    """What requests can aim at in this world."""
    valid_keys: list[str] = []
    headers, params, cookies, identities = set(), set(), set(), set()
    orders = []
    for manifest in manifests:
        if manifest["kind"] == "Secret":
            valid_keys += manifest["stringData"].values()
        if manifest["kind"] != "TrafficPolicy":
            continue
        auth = manifest["spec"]["apiKeyAuth"]
        items = auth.get("keySources", [{"header": "api-key"}]) if "disable" not in auth else []
        for item in items:
            headers.update([item["header"]] if "header" in item else [])
            params.update([item["query"]] if "query" in item else [])
            cookies.update([item["cookie"]] if "cookie" in item else [])
        # The field of each item that counts (header, else query, else cookie), in list order.
        effective = tuple(next((f, item[f]) for f in ("header", "query", "cookie") if f in item) for item in items)
        orders.append((effective, _guarded_paths(manifest)))
        if auth.get("clientIdHeader"):
            identities.add(auth["clientIdHeader"])
    return Surface(
        host=HOST,
        paths=PATHS,
        keys=tuple(valid_keys),
        headers=tuple(sorted(headers)) or ("api-key",),
        params=tuple(sorted(params)),
        cookies=tuple(sorted(cookies)),
        identity_headers=tuple(sorted(identities)),
        orders=tuple(orders),
    )


def _guarded_paths(policy: dict[str, Any]) -> tuple[str, ...]:
    """The request paths a policy guards: one rule's (sectionName or ExtensionRef), or every path."""
    level = policy["metadata"]["name"].removeprefix("auth-")
    if level[-2:] in ("-a", "-b"):
        return tuple(path for name, _, path in RULES if name == "rule" + level[-2:])
    return PATHS


@st.composite
def cases(draw: st.DrawFn, max_requests: int = 4) -> Case:
    manifests = draw(worlds())
    requests = draw(st.lists(requests_for(surface(manifests)), min_size=1, max_size=max_requests))
    return Case("kgateway", tuple(manifests), tuple(requests))


def feature_tag(case: Case, outcome: RequestOutcome) -> str:
    """The suite feature a scenario about this divergence belongs to: what differs first, then what the policy uses."""
    shown = outcome.unexplained or outcome.differences
    roles = header_roles(case)
    aspects = {d.aspect for d in shown}
    names = {d.name for d in shown if d.name}
    auths = [m["spec"]["apiKeyAuth"] for m in case.manifests if m["kind"] == "TrafficPolicy"]
    items = [item for auth in auths for item in auth.get("keySources", [])]
    if any(roles.get(name) == "identity" for name in names):
        return "APIKeyAuthClientIDHeader"
    if "upstream query" in aspects:
        return "APIKeyAuthQuerySource"
    if "cookie" in names:
        return "APIKeyAuthCookieSource"
    if "policy status" in aspects:
        return "APIKeyAuthInvalidPolicy"
    checks = (
        ("APIKeyAuthMissingSecret", any(MISSING in str(auth) for auth in auths)),
        ("APIKeyAuthDisable", any("disable" in auth for auth in auths)),
        (
            "APIKeyAuthMultipleSources",
            any(len(a.get("keySources", [])) > 1 for a in auths) or any(len(i) > 1 for i in items),
        ),
        ("APIKeyAuthForwardCredential", any(auth.get("forwardCredential") for auth in auths)),
        ("APIKeyAuthBearerPrefix", any(v.lower().startswith(("bearer", "basic")) for _, v in outcome.request.headers)),
        ("APIKeyAuthQuerySource", any("query" in item for item in items)),
        ("APIKeyAuthCookieSource", any("cookie" in item for item in items)),
        ("APIKeyAuthClientIDHeader", any(auth.get("clientIdHeader") for auth in auths)),
        ("APIKeyAuthSecretSelector", any("secretSelector" in auth for auth in auths)),
        ("APIKeyAuthRouteOverride", len(auths) > 1),
        (
            "APIKeyAuthSectionName",
            any(
                m["metadata"]["name"].startswith(("auth-rule", "auth-extref", "auth-listener")) for m in case.manifests
            ),
        ),
        ("APIKeyAuthCustomHeader", any("header" in item for item in items)),
    )
    return next((tag for tag, applies in checks if applies), "APIKeyAuth")
