"""Connection-specific request headers: removed before a request is routed and decided on, never forwarded.

A client's `Connection` header may name more headers to remove (RFC 9110 section 7.6.1). They go before the policy
decision, as in Envoy's codec, so the decision sees exactly the headers the upstream gets: a key in a header the
client nominated is not a key. Nominating Host (or, on a kgateway listener, the X-Forwarded headers Envoy sets) is
a bad request: routing and forwarding must see the same Host. Nominating Content-Length or Transfer-Encoding only
removes the header; the forwarder frames the body from what the server actually read (reference_impl.gateway.proxy).
"""

from __future__ import annotations

from reference_impl.auth.decision import Headers

# RFC 9110 section 7.6.1 connection-specific fields, plus the legacy ones proxies still strip. `expect` too: the
# gateway answers `100-continue` itself once the request is allowed.
GENERIC = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"expect",
    }
)
# Headers the Connection header may never remove: the gateway routes on Host and forwards that same Host.
NEVER_NOMINATED = frozenset({b"host"})
# RFC 9110 section 5.6.2 token characters: a Connection option is a header name.
_TOKEN = frozenset(b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz")


class Refused(str):
    """Why the request's Connection header cannot be honoured; the client gets 400."""


def nominated(headers: Headers) -> set[bytes]:
    """The header names the Connection header(s) list, lower-cased."""
    return {
        token.strip().lower()
        for name, value in headers
        if name == b"connection"
        for token in value.split(b",")
        if token.strip()
    }


def request_headers(
    headers: Headers,
    hop_by_hop: frozenset[bytes] = GENERIC,
    refused: frozenset[bytes] = NEVER_NOMINATED,
    keep_te_trailers: bool = False,
) -> Headers | Refused:
    """The headers without hop-by-hop ones and the ones Connection names, or why the request is refused.

    `keep_te_trailers`: forward `TE: trailers` (Envoy does, for gRPC) even when Connection names TE."""
    names = nominated(headers) if any(name == b"connection" for name, _ in headers) else set()
    for name in names:
        if name in refused:
            return Refused(f"the Connection header may not name {name.decode('latin-1')}")
        if not set(name) <= _TOKEN:
            return Refused("the Connection header lists something that is not a header name")
    kept: Headers = []
    te_kept = not keep_te_trailers
    for name, value in headers:
        if name in hop_by_hop or name in names:
            if name == b"te" and not te_kept and b"trailers" in _tokens(value):
                te_kept = True
                kept.append((b"te", b"trailers"))
            continue
        kept.append((name, value))
    return kept


def _tokens(value: bytes) -> set[bytes]:
    return {token.split(b";", 1)[0].strip().lower() for token in value.split(b",")}


def response_headers(headers: Headers) -> Headers:
    """An upstream response's headers without hop-by-hop ones and the ones its Connection header names."""
    names = nominated(headers)
    return [(k, v) for k, v in headers if k not in GENERIC and k not in names]
