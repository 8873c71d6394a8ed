"""Generated kgateway worlds: Secrets, an HTTPRoute with named rules, and TrafficPolicies at every level.

Every generated policy is valid (the CRD admits it and kgateway translates it): Secrets hold distinct keys,
selectors match at least one Secret, no two policies share one target (kgateway would pick the oldest, and
creation order is not something two gateways can be made to agree on). Names come from small pools so that
sources, neighbours and spoofed identities collide often.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from conformance.differential.compare import header_roles
from conformance.differential.model import Case, RequestOutcome
from conformance.differential.traffic import Surface, keys, requests_for
from conformance.profiles import PROFILES

PROFILE = PROFILES["kgateway"]
NAMESPACE = PROFILE.gateway_namespace
GATEWAY = PROFILE.gateway_name
LISTENER = "http"
HOST = "www.example.com"
POLICY_GROUP = "gateway.kgateway.dev"
#: (rule name, path prefix, a request path it matches); the last rule catches everything else.
RULES = (
    ("rule-a", "/anything/a", "/anything/a"),
    ("rule-b", "/anything/b", "/anything/b"),
    ("rest", "/", "/anything/c"),
)
HEADER_SOURCES = ("api-key", "x-api-key", "Authorization", "X-Key")
QUERY_SOURCES = ("api_key", "key", "token", "api-key")
COOKIE_SOURCES = ("api_key", "session", "token")
CLIENT_ID_HEADERS = ("x-client-id", "X-Client", "x-api-key")
CLIENTS = ("alice", "bob", "carol", "dave")
#: Where a policy attaches: the Gateway, its listener, the route, one rule by sectionName or by ExtensionRef.
LEVELS = ("gateway", "listener", "route", "rule-a", "rule-b", "extref-a", "extref-b")
#: What each level attaches to: a rule's sectionName policy and its ExtensionRef policy guard the same rule.
TARGET_OF = {level: level[-1] if "-" in level else level for level in LEVELS}


def _secrets(draw: st.DrawFn) -> list[dict[str, Any]]:
    count = draw(st.integers(1, 3))
    values = draw(keys(min_size=count, max_size=count + 3))
    secrets, position = [], 0
    for index in range(count):
        remaining = len(values) - position - (count - index - 1)  # leave each later Secret at least one key
        take = draw(st.integers(1, min(3, remaining)))
        clients = draw(st.lists(st.sampled_from(CLIENTS), min_size=take, max_size=take, unique=True))
        entries = dict(zip(clients, values[position : position + take], strict=True))
        position += take
        secrets.append(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": f"keys-{index + 1}", "namespace": NAMESPACE, "labels": {"set": "ab"[index % 2]}},
                "stringData": entries,
            }
        )
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
    if draw(st.booleans()):
        auth["secretRef"] = {"name": draw(st.sampled_from([s["metadata"]["name"] for s in secrets]))}
    else:
        labels = sorted({s["metadata"]["labels"]["set"] for s in secrets})
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


def _target_ref(level: str) -> list[dict[str, Any]]:
    if level in ("gateway", "listener"):
        ref: dict[str, Any] = {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": GATEWAY}
        if level == "listener":
            ref["sectionName"] = LISTENER
        return [ref]
    if level.startswith("extref-"):
        return []  # attached by the rule's ExtensionRef filter instead
    ref = {"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": "httpbin"}
    if level.startswith("rule-"):
        ref["sectionName"] = level
    return [ref]


def _route(extension_refs: dict[str, str]) -> dict[str, Any]:
    rules = []
    for name, prefix, _ in RULES:
        rule: dict[str, Any] = {
            "name": name,
            "matches": [{"path": {"type": "PathPrefix", "value": prefix}}],
            "backendRefs": [{"name": "httpbin", "port": 8000}],
        }
        if name in extension_refs:
            rule["filters"] = [
                {
                    "type": "ExtensionRef",
                    "extensionRef": {"group": POLICY_GROUP, "kind": "TrafficPolicy", "name": extension_refs[name]},
                }
            ]
        rules.append(rule)
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "httpbin", "namespace": NAMESPACE},
        "spec": {"parentRefs": [{"name": GATEWAY}], "hostnames": [HOST], "rules": rules},
    }


@st.composite
def worlds(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Secrets, the route, and one to three policies on distinct targets (rule-a and extref-a are one target)."""
    secrets = _secrets(draw)
    levels = draw(st.lists(st.sampled_from(LEVELS), min_size=1, max_size=3, unique_by=TARGET_OF.get))
    policies, extension_refs = [], {}
    for level in levels:
        name = f"auth-{level}"
        spec: dict[str, Any] = {"apiKeyAuth": _auth(draw, secrets)}
        refs = _target_ref(level)
        if refs:
            spec = {"targetRefs": refs, **spec}
        else:
            extension_refs["rule-" + level[-1]] = name
        policies.append(
            {
                "apiVersion": f"{POLICY_GROUP}/v1alpha1",
                "kind": "TrafficPolicy",
                "metadata": {"name": name, "namespace": NAMESPACE},
                "spec": spec,
            }
        )
    return [*secrets, _route(extension_refs), *policies]


def surface(manifests: list[dict[str, Any]]) -> Surface:
    """What requests can aim at in this world."""
    valid_keys: list[str] = []
    headers, params, cookies, identities = set(), set(), set(), set()
    for manifest in manifests:
        if manifest["kind"] == "Secret":
            valid_keys += manifest["stringData"].values()
        if manifest["kind"] != "TrafficPolicy":
            continue
        auth = manifest["spec"]["apiKeyAuth"]
        for item in auth.get("keySources", [{"header": "api-key"}]) if "disable" not in auth else []:
            headers.update([item["header"]] if "header" in item else [])
            params.update([item["query"]] if "query" in item else [])
            cookies.update([item["cookie"]] if "cookie" in item else [])
        if auth.get("clientIdHeader"):
            identities.add(auth["clientIdHeader"])
    return Surface(
        host=HOST,
        paths=tuple(path for _, _, path in RULES),
        keys=tuple(valid_keys),
        headers=tuple(sorted(headers)) or ("api-key",),
        params=tuple(sorted(params)),
        cookies=tuple(sorted(cookies)),
        identity_headers=tuple(sorted(identities)),
    )


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
    checks = (
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
