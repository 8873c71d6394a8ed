"""Request headers as Envoy holds and forwards them, for the listeners of kgateway Gateways (Envoy is kgateway's
data plane). Each rule here was observed on Envoy 1.40 (tests/envoy/test_envoy_header_forwarding.py checks them
side by side); agentgateway's listeners keep the reference gateway's generic forwarding."""

from __future__ import annotations

from reference_impl.auth.decision import Headers
from reference_impl.gateway import hop_by_hop

# Headers Envoy stores inline (built in, or registered by a compiled-in extension): repeated lines reach its
# filters, and the upstream, as one value, the non-empty values joined by ",". Other headers keep their lines.
INLINE_HEADERS = frozenset(
    {
        b"accept",
        b"accept-encoding",
        b"access-control-request-headers",
        b"access-control-request-method",
        b"authorization",
        b"cache-control",
        b"cdn-loop",
        b"content-encoding",
        b"content-type",
        b"expect",
        b"grpc-accept-encoding",
        b"grpc-timeout",
        b"if-match",
        b"if-modified-since",
        b"if-none-match",
        b"if-range",
        b"if-unmodified-since",
        b"origin",
        b"pragma",
        b"proxy-status",
        b"referer",
        b"user-agent",
        b"x-client-trace-id",
    }
)

# What Envoy removes before its filters run: the connection-specific headers (and any the Connection header
# names), but not Proxy-Authorization, Proxy-Authenticate or Trailer, which it passes on; `TE: trailers` stays.
HOP_BY_HOP = frozenset({b"connection", b"keep-alive", b"proxy-connection", b"te", b"transfer-encoding", b"upgrade"})
# What Envoy answers 400 to when the Connection header names it: Host, the X-Forwarded headers it sets itself, and
# anything that is not a header name (`:authority`).
REFUSED_NOMINATIONS = frozenset({b"host", b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host"})


def request_headers(headers: Headers) -> Headers | hop_by_hop.Refused:
    """The headers Envoy's filters see and forward, or why it answers 400 (observed on Envoy 1.40)."""
    return hop_by_hop.request_headers(headers, HOP_BY_HOP, REFUSED_NOMINATIONS, keep_te_trailers=True)


# Envoy's default forward_client_cert_details is SANITIZE: a client's X-Forwarded-Client-Cert never reaches the
# upstream on a listener without client certificates.
_SANITIZED = b"x-forwarded-client-cert"


def joined(headers: Headers) -> Headers:
    """The headers as Envoy holds them: a repeated inline header becomes one line, in the first one's place."""
    seen: set[bytes] = set()
    repeated = False
    for name, _ in headers:
        if name in INLINE_HEADERS:
            repeated = repeated or name in seen
            seen.add(name)
    if not repeated:
        return headers
    result: Headers = []
    done: set[bytes] = set()
    for name, value in headers:
        if name not in INLINE_HEADERS:
            result.append((name, value))
        elif name not in done:
            done.add(name)
            result.append((name, b",".join(v for k, v in headers if k == name and v)))
    return result


def forwardable(headers: Headers) -> Headers:
    """The client headers Envoy sends on: X-Forwarded-Client-Cert dropped, and Expect only when it is exactly
    `100-continue` (Envoy answers that itself); hop-by-hop headers went before the decision (request_headers)."""
    return [
        (name, value)
        for name, value in headers
        if name != _SANITIZED and not (name == b"expect" and value.lower() == b"100-continue")
    ]
