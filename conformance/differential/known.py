"""Known divergences: differences between two real gateways that are understood, with their upstream reason.

A request whose every difference is explained by an entry here is listed under that entry, not failed. Each entry
explains exactly the differences its rule reproduces (never "anything in the query"), so a new difference in the
same place still fails: either a rule computed from the two observations (`explains`), or a rewrite of the request
that does what one side does on its own (`rewrite`), explaining the divergence when the other side, sent the
rewritten request, answers as the first did to the original. Delete an entry once both sides agree: a run
reports the entries that matched nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from conformance.differential.compare import NONE
from conformance.differential.model import Case, Difference, RequestOutcome
from conformance.http import RequestSpec

#: The reference gateway is changed to behave as the other side: the entry goes when that change lands.
REFERENCE_WILL_FIX = "reference-will-fix"
#: The reference gateway is wrong; reported with the minimal reproduction, listed here until it is fixed.
REFERENCE_BUG_REPORTED = "reference-bug-reported"


@dataclass(frozen=True)
class KnownDivergence:
    id: str
    title: str
    reason: str
    source: str
    status: str
    explains: Callable[[Case, RequestOutcome], list[Difference]] | None = None
    rewrite: Callable[[RequestSpec], RequestSpec | None] | None = None

    def as_dict(self) -> dict[str, str]:
        return {"id": self.id, "title": self.title, "reason": self.reason, "source": self.source, "status": self.status}


#: Request headers Envoy 1.40 keeps as one inline header: a repeated one reaches filters and the upstream as one
#: value, the non-empty values joined by ",". Observed on the Envoy target (other names stay separate lines).
ENVOY_INLINE_HEADERS = frozenset(
    {
        "accept",
        "accept-encoding",
        "authorization",
        "cache-control",
        "content-type",
        "if-none-match",
        "origin",
        "referer",
        "user-agent",
    }
)


def envoy_joined_headers(request: RequestSpec) -> RequestSpec | None:
    """The request as Envoy's filters see it: each repeated inline header joined into its first line."""
    names = [name.lower() for name, _ in request.headers]
    repeated = {n for n in names if n in ENVOY_INLINE_HEADERS and names.count(n) > 1}
    if not repeated:
        return None
    headers: list[tuple[str, str]] = []
    joined: set[str] = set()
    for name, value in request.headers:
        lower = name.lower()
        if lower not in repeated:
            headers.append((name, value))
        elif lower not in joined:
            joined.add(lower)
            headers.append((name, ",".join(v for n, v in request.headers if n.lower() == lower and v)))
    return replace(request, headers=tuple(headers))


def envoy_cookie_rebuild(lines: tuple[str, ...]) -> tuple[str, ...]:
    """The Cookie header Envoy 1.40 forwards after hiding a credential cookie (the credential already gone): every
    Cookie line merged into one, segments without '=' dropped, one pair of quotes around a value removed."""
    kept = []
    for line in lines:
        for segment in line.split(";"):
            name, equals, value = segment.lstrip(" ").partition("=")
            if not equals:
                continue
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            kept.append(f"{name}={value}")
    return ("; ".join(kept),) if kept else ()


def _cookie_rebuilt(case: Case, outcome: RequestOutcome) -> list[Difference]:
    a, b = outcome.a.upstream, outcome.b.upstream
    if a is None or b is None:
        return []
    lines_a, lines_b = a.header("cookie"), b.header("cookie")
    if envoy_cookie_rebuild(lines_a) != lines_b and envoy_cookie_rebuild(lines_b) != lines_a:
        return []
    return [d for d in outcome.differences if d.aspect == "upstream header" and d.name == "cookie"]


def _identity_hidden(case: Case, outcome: RequestOutcome) -> list[Difference]:
    """A header that is both a hidden key source and the clientIdHeader: Envoy sets the client id first and
    then removes the credential headers, so the upstream gets neither; the reference gateway sets it last."""
    both, clients = set(), set()
    for manifest in case.manifests:
        auth = (manifest.get("spec") or {}).get("apiKeyAuth") or {}
        identity = str(auth.get("clientIdHeader") or "").lower()
        sources = {str(s["header"]).lower() for s in auth.get("keySources") or [{"header": "api-key"}] if "header" in s}
        if identity in sources and not auth.get("forwardCredential"):
            both.add(identity)
        clients.update((manifest.get("stringData") or {}) if manifest.get("kind") == "Secret" else ())
    return [
        d
        for d in outcome.differences
        if d.aspect == "upstream header" and d.name in both and {d.a, d.b} & clients and NONE in (d.a, d.b)
    ]


KNOWN: tuple[KnownDivergence, ...] = (
    KnownDivergence(
        id="envoy-joins-repeated-inline-headers",
        title="Envoy joins a repeated Authorization (and other inline) header into one value",
        reason=(
            "Envoy keeps some request headers (Authorization, Accept, User-Agent, ...) as inline headers: a "
            "repeated one becomes a single value, the non-empty values joined by ','. Its api_key_auth filter "
            "then reads 'k1,k2' where the reference gateway reads the first value 'k1', and the upstream gets one "
            "line. kgateway's data plane is Envoy, so the reference gateway is wrong here (it follows SPEC.md's "
            "'first value' for every header name); reported with a minimal reproduction."
        ),
        source="observed on Envoy 1.40 (the envoy target); envoyproxy/envoy source/common/http/header_map_impl.cc",
        status=REFERENCE_BUG_REPORTED,
        rewrite=envoy_joined_headers,
    ),
    KnownDivergence(
        id="envoy-cookie-rebuild",
        title="Envoy rewrites the Cookie header when it hides a credential cookie",
        reason=(
            "With a cookie key source and credentials hidden, Envoy rebuilds the Cookie header of every allowed "
            'request: all Cookie lines merged into one, quotes around values removed (a="1" becomes a=1), '
            "segments without '=' dropped. The reference gateway keeps the other cookies as sent (SPEC.md: "
            "'cookie removed with the others kept in order'), so it differs from kgateway's data plane; reported "
            "with a minimal reproduction."
        ),
        source="observed on Envoy 1.40 (the envoy target); envoyproxy/envoy api_key_auth.cc (cookie removal)",
        status=REFERENCE_BUG_REPORTED,
        explains=_cookie_rebuilt,
    ),
    KnownDivergence(
        id="envoy-client-id-then-hide",
        title="A clientIdHeader that is also a key source header is removed with the credential",
        reason=(
            "Envoy's api_key_auth filter sets the client id header and then removes every credential header, so "
            "when clientIdHeader names one of the policy's key source headers the upstream receives neither the "
            "key nor the client id. The reference gateway removes first and sets the client id last; reported "
            "with a minimal reproduction."
        ),
        source="observed on Envoy 1.40 (the envoy target); envoyproxy/envoy api_key_auth.cc (onDecodeHeaders)",
        status=REFERENCE_BUG_REPORTED,
        explains=_identity_hidden,
    ),
)


def classify(case: Case, outcome: RequestOutcome, known: tuple[KnownDivergence, ...] = KNOWN) -> None:
    """Fill `outcome.known` with the entries that explain some of its differences."""
    outcome.known = {}
    for entry in known:
        explained = entry.explains(case, outcome) if entry.explains else []
        if explained:
            outcome.known[entry.id] = explained
