"""The known divergences' models of Envoy, checked by example and against the real Envoy target."""

from __future__ import annotations

import pytest
from diffsupport import kgateway_world

from conformance.differential.known import KNOWN, envoy_cookie_rebuild, envoy_joined_headers
from conformance.differential.pair import TargetPair
from conformance.http import RequestSpec


def test_joined_headers_model_joins_only_repeated_inline_headers() -> None:
    headers = (
        ("Authorization", ""),
        ("api-key", "a"),
        ("authorization", "k1"),
        ("api-key", "b"),
        ("Authorization", "k2"),
    )
    request = RequestSpec(headers=headers)
    joined = envoy_joined_headers(request)
    assert joined is not None
    assert joined.headers == (("Authorization", "k1,k2"), ("api-key", "a"), ("api-key", "b"))
    assert envoy_joined_headers(RequestSpec(headers=(("api-key", "a"), ("api-key", "b")))) is None


def test_cookie_rebuild_model() -> None:
    assert envoy_cookie_rebuild(('a="1"; b=""', "c=3; flag")) == ("a=1; b=; c=3",)
    assert envoy_cookie_rebuild(("flag",)) == ()


def test_every_known_divergence_says_why_and_explains_something() -> None:
    for entry in KNOWN:
        assert entry.reason and entry.source and entry.status
        assert (entry.explains is None) != (entry.rewrite is None)


@pytest.fixture(scope="module")
def reference_and_envoy():
    pair = TargetPair(("reference", "envoy"), ({}, {}), "kgateway")
    pair.start()
    yield pair
    pair.close()


def test_models_match_what_envoy_forwards(reference_and_envoy: TargetPair) -> None:
    """Through a policy with query and cookie sources and hidden credentials, Envoy forwards exactly what the
    models compute from what the reference gateway forwards; the query string, which the reference gateway now
    rebuilds as Envoy does (SPEC.md "Query rebuild"), is the same on both."""
    pair = reference_and_envoy
    pair.load(kgateway_world(key_sources=[{"header": "x-api-key"}, {"query": "api_key"}, {"cookie": "tok"}]))
    request = RequestSpec(
        path="/anything/a",
        headers=(("x-api-key", "model-key-7d1e"),),
        query=(("z", "1"), ("api_key", "other"), ("b", "%26x"), ("a", "q+r"), ("b", "2")),
        cookies=(("theme", '"dark"'), ("tok", "x"), ("a", "1")),
    )
    reference, envoy = pair.send(request)
    assert reference.upstream is not None and envoy.upstream is not None
    assert reference.upstream.query == envoy.upstream.query == "a=q+r&b=&x&b=2&z=1"
    assert envoy.upstream.header("cookie") == envoy_cookie_rebuild(reference.upstream.header("cookie"))
    assert envoy.upstream.header("cookie") == ("theme=dark; a=1",)
    headers = (("Authorization", "a"), ("x-api-key", "model-key-7d1e"), ("Authorization", "b"))
    repeated = RequestSpec(path="/anything/a", headers=headers)
    reference, envoy = pair.send(repeated)
    joined = envoy_joined_headers(repeated)
    assert joined is not None
    reference_joined, _ = pair.send(joined)
    assert envoy.upstream is not None and reference_joined.upstream is not None
    assert envoy.upstream.header("authorization") == reference_joined.upstream.header("authorization") == ("a,b",)
