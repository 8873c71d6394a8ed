"""Where the reference gateway's HTTP handling knowingly differs from Envoy 1.40 configured as kgateway configures it.

Each difference is stricter on the reference side (it refuses what Envoy tolerates) or only changes a local reply's
body; none lets a request reach a route that Envoy would not route it to. They are published in the report of an
Envoy run and checked by tests/envoy/test_envoy_hostile.py, which fails if one stops being true.
"""

from __future__ import annotations

from dataclasses import dataclass

IMPLEMENTATION = "Envoy 1.40 HTTP connection manager as kgateway configures it"


@dataclass(frozen=True)
class Divergence:
    id: str
    feature: str
    description: str
    implementation: str = IMPLEMENTATION

    def report_entry(self) -> dict[str, str]:
        return {"feature": self.feature, "implementation": self.implementation, "description": self.description}


REQUEST_HANDLING = (
    Divergence(
        "duplicate-host",
        "HTTPRequestHandling",
        "Two Host headers: Envoy joins them with a comma into one authority, which then matches only a catch-all "
        "virtual host, and forwards that joined value; the reference gateway answers 400 as RFC 9112 section 3.2 "
        "requires. Neither routes and forwards on different hosts.",
    ),
    Divergence(
        "lenient-framing",
        "HTTPRequestHandling",
        "Obsolete line folding in a header, a bare CR inside a header value and bare-LF line endings: Envoy's "
        "parser accepts them, the reference gateway's (llhttp) answers 400.",
    ),
    Divergence(
        "request-headers-timeout",
        "HTTPRequestHandling",
        "A request head that never ends, alone or pipelined behind another request: kgateway leaves Envoy's "
        "request_headers_timeout unset (disabled), so the connection stays open until the 1-hour idle timeout; the "
        "reference gateway answers 408 after 10 seconds (after the answers before it).",
    ),
    Divergence(
        "local-reply-bodies",
        "HTTPRequestHandling",
        "Bodies of the gateway's own replies other than the API key ones: Envoy sends `Bad Request`, an empty "
        "body or nothing for 400 and 404; the reference gateway says why (`missing Host header`, `no route matches "
        "this request`). Status codes are the same.",
    ),
)
