"""The query Envoy 1.40 forwards when a query key source is configured and the credential is hidden, and the
reference gateway's against it: both targets in front of one upstream that echoes the raw request target.

Envoy's api_key_auth filter (api_key_auth.cc, removeKey over Http::Utility::QueryParamsMulti) rebuilds the
query on every allowed request: sorted by name, repeated names together, decoded bytes written back.
"""

from __future__ import annotations

import http.client
import random
from collections.abc import Iterator
from urllib.parse import unquote_to_bytes

import pytest
import yaml
from echo_upstream import EchoUpstream

from conformance.targets.base import Target
from conformance.targets.envoy import EnvoyTarget
from conformance.targets.reference import ReferenceTarget

KEY = "rebuild-probe-key-7d1e"
HEADER_AND_QUERY = "[{header: api-key}, {query: api_key}]"
TWO_QUERIES = "[{query: k1}, {query: k2}]"


def manifests(key_sources: str) -> list[dict]:
    text = f"""
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: http, namespace: default}}
spec: {{gatewayClassName: kgateway, listeners: [{{name: http, port: 8080, protocol: HTTP}}]}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: echo, namespace: default}}
spec: {{parentRefs: [{{name: http}}], rules: [{{backendRefs: [{{name: echo, port: 80}}]}}]}}
---
apiVersion: v1
kind: Secret
metadata: {{name: keys, namespace: default}}
stringData: {{client: {KEY}}}
---
apiVersion: gateway.kgateway.dev/v1alpha1
kind: TrafficPolicy
metadata: {{name: p, namespace: default}}
spec:
  targetRefs: [{{group: gateway.networking.k8s.io, kind: Gateway, name: http}}]
  apiKeyAuth: {{secretRef: {{name: keys}}, keySources: {key_sources}}}
"""
    return [d for d in yaml.safe_load_all(text) if d]


@pytest.fixture(scope="module")
def targets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EnvoyTarget, ReferenceTarget]]:
    options = {"work_dir": str(tmp_path_factory.mktemp("envoy"))}
    reason = EnvoyTarget.unavailable_reason(options)
    if reason:
        pytest.skip(reason)
    echo = EchoUpstream()
    backends = f"echo=http://127.0.0.1:{echo.port}"
    envoy = EnvoyTarget({**options, "backends": backends})
    reference = ReferenceTarget({"backends": backends})
    try:
        envoy.start()
        reference.start()
        yield envoy, reference
    finally:
        envoy.close()
        reference.close()
        echo.stop()


def configure(targets: tuple[EnvoyTarget, ReferenceTarget], key_sources: str) -> None:
    envoy, reference = targets
    documents = manifests(key_sources)
    envoy.apply(documents)
    envoy.wait_applied(documents, timeout=15)
    reference.reset()
    reference.apply(documents)


def upstream(target: Target, request_target: str, headers: dict[str, str]) -> tuple[int, bytes]:
    """(status, the request target the upstream received), or the response body when not 200."""
    host, port = target.base_url(8080).removeprefix("http://").rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.putrequest("GET", request_target, skip_host=True, skip_accept_encoding=True)
        for name, value in {"Host": "www.example.com", **headers}.items():
            conn.putheader(name, value)
        conn.endheaders()
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            return response.status, body
        request_line = body.split(b"\r\n", 1)[0]  # the echo's body is the request head as received
        return response.status, request_line.split(b" ", 1)[1].rsplit(b" ", 1)[0]  # a raw space may be inside
    finally:
        conn.close()


# Request target -> what Envoy 1.40 forwards (the key arrives in the api-key header; a query source is configured).
DOCUMENTED = [
    ("/x?z=2&a=1", b"/x?a=1&z=2"),
    ("/x?b=1&a=2&b=3", b"/x?a=2&b=1&b=3"),
    ("/x?flag", b"/x?flag="),
    ("/x?a=%26&b=c", b"/x?a=&&b=c"),
    ("/x?a=1+2&c=%2B", b"/x?a=1+2&c=+"),
    ("/x?%61=1&a=%zz&b=%", b"/x?a=1&a=%zz&b=%"),
    ("/x?&&a=1&", b"/x?=&=&a=1"),
    ("/x?api_key=other", b"/x"),
    ("/x?", b"/x"),
    ("/x", b"/x"),
]


def test_envoy_rebuilds_the_query_and_the_reference_does_the_same(targets):
    configure(targets, HEADER_AND_QUERY)
    for target in targets:
        for request_target, forwarded in DOCUMENTED:
            assert upstream(target, request_target, {"api-key": KEY}) == (200, forwarded), (target.name, request_target)
        assert upstream(target, "/x?a=%0A", {"api-key": KEY}) == (503, b"invalid header value for: :path")


def test_decoded_bytes_go_upstream_as_they_are(targets):
    configure(targets, HEADER_AND_QUERY)
    for target in targets:
        forwarded = upstream(target, "/x?b=%23&a=%09&c=%FF&d=%20&e=%C3%A9", {"api-key": KEY})
        assert forwarded == (200, b"/x?a=\t&b=#&c=\xff&d= &e=\xc3\xa9"), target.name


ALPHABET = [*"abcAZ019-._~!$'()*,;:@/?+=", "%", "%26", "%3D", "%25", "%2B", "%3F", "%2F", "%zz", "%2", "%7e", "%41"]
ALPHABET += ["%09", "%20", "%23", "%80", "%C3%A9", "%ff", "%2509", "%2541"]


def generated_queries(seed: int, count: int) -> list[str]:
    """Random queries of up to six pieces (name=value, bare names, empty pieces, the key's own name), none of which
    decodes (even twice) to a control character other than TAB: those are the 503 case, checked above."""
    rng = random.Random(seed)

    def word() -> str:
        return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 4)))

    def piece() -> str:
        kind = rng.random()
        return rng.choice(["api_key=x", "k1=y", "k2"]) if kind < 0.1 else word() if kind < 0.3 else f"{word()}={word()}"

    found = []
    while len(found) < count:
        query = "&".join(piece() for _ in range(rng.randint(0, 6)))
        decoded = unquote_to_bytes(unquote_to_bytes(query))
        if not any((byte < 0x20 and byte != 0x09) or byte == 0x7F for byte in decoded):
            found.append(query)
    return found


@pytest.mark.parametrize(("key_sources", "seed"), [(HEADER_AND_QUERY, 1), (TWO_QUERIES, 2)])
def test_the_reference_forwards_what_envoy_forwards_for_generated_queries(targets, key_sources, seed):
    configure(targets, key_sources)
    envoy, reference = targets
    headers = {"api-key": KEY} if key_sources == HEADER_AND_QUERY else {}
    for query in generated_queries(seed, 100):
        request_target = f"/x?{query}" if key_sources == HEADER_AND_QUERY else f"/x?{query}&k2={KEY}"
        assert upstream(reference, request_target, headers) == upstream(envoy, request_target, headers), query
