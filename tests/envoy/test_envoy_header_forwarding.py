"""Request headers on a kgateway listener reach the upstream as Envoy forwards them: repeated inline headers joined,
the hop-by-hop set Envoy removes (and only that), X-Forwarded-Client-Cert sanitised, Expect kept unless it is
`100-continue`. Each case goes to the reference gateway and to a real Envoy in one run; both must forward exactly
the expected lines (see reference_impl/gateway/envoy_headers.py)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.differential.pair import TargetPair
from conformance.http import RequestSpec
from conformance.targets.envoy import EnvoyTarget

sys.path.insert(0, str(Path(__file__).parents[1] / "differential"))
from diffsupport import kgateway_world

KEY = "model-key-7d1e"  # the key kgateway_world stores
# Written out, not taken from envoy_headers.INLINE_HEADERS, so a name dropped there fails here.
INLINE = (
    "accept",
    "accept-encoding",
    "access-control-request-headers",
    "access-control-request-method",
    "authorization",
    "cache-control",
    "cdn-loop",
    "content-encoding",
    "content-type",
    "grpc-accept-encoding",
    "grpc-timeout",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-range",
    "if-unmodified-since",
    "origin",
    "pragma",
    "proxy-status",
    "referer",
    "user-agent",
    "x-client-trace-id",
)
NOT_INLINE = ("accept-language", "x-api-key", "x-custom", "range", "cookie", "traceparent", "b3", "accept-charset")


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TargetPair]:
    reason = EnvoyTarget.unavailable_reason({"work_dir": str(tmp_path_factory.mktemp("envoy"))})
    if reason:
        pytest.skip(reason)
    with TargetPair(("reference", "envoy"), ({}, {}), "kgateway") as started:
        started.load(kgateway_world(key_sources=[{"header": "x-key"}]))
        yield started


def forwarded(pair: TargetPair, *lines: tuple[str, str]) -> dict[str, tuple[tuple[str, ...], ...]]:
    """Each header name sent -> (what the reference upstream received, what the Envoy upstream received)."""
    reference, envoy = pair.send(RequestSpec(path="/anything/h", headers=(("x-key", KEY), *lines)))
    assert reference.status == envoy.status == 200, (reference.status, envoy.status)
    assert reference.upstream is not None and envoy.upstream is not None
    return {name: (reference.upstream.header(name), envoy.upstream.header(name)) for name, _ in lines}


@pytest.mark.parametrize("name", INLINE)
def test_a_repeated_inline_header_is_one_line_joined_without_empty_values(pair: TargetPair, name: str) -> None:
    seen = forwarded(pair, (name, "v1"), (name, ""), (name, "v2"))
    assert seen[name] == (("v1,v2",), ("v1,v2",))


@pytest.mark.parametrize("name", NOT_INLINE)
def test_other_repeated_headers_keep_their_lines(pair: TargetPair, name: str) -> None:
    seen = forwarded(pair, (name, "v1"), (name, ""), (name, "v2"))
    assert seen[name] == (("v1", "", "v2"), ("v1", "", "v2"))


@pytest.mark.parametrize("name", ["proxy-authorization", "proxy-authenticate", "trailer"])
def test_headers_envoy_does_not_treat_as_hop_by_hop_are_forwarded(pair: TargetPair, name: str) -> None:
    assert forwarded(pair, (name, "v1"))[name] == (("v1",), ("v1",))


@pytest.mark.parametrize(
    "lines",
    [
        (("x-forwarded-client-cert", "By=spiffe://x"),),
        (("te", "trailers"),),
        (("connection", "x-nominated"), ("x-nominated", "1")),
        (("expect", "100-Continue"),),
    ],
    ids=["x-forwarded-client-cert", "te", "connection-nominated", "expect-100-continue"],
)
def test_headers_envoy_removes_are_removed(pair: TargetPair, lines: tuple[tuple[str, str], ...]) -> None:
    assert set(forwarded(pair, *lines).values()) == {((), ())}


@pytest.mark.parametrize(
    ("lines", "expected"),
    [((("expect", "v"),), "v"), ((("expect", "100-continue"), ("expect", "v")), "100-continue,v")],
)
def test_an_expect_other_than_100_continue_is_forwarded(pair: TargetPair, lines, expected: str) -> None:
    assert forwarded(pair, *lines)["expect"] == ((expected,), (expected,))
