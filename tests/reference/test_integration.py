"""The gateway over real sockets in front of the real httpbin (gunicorn) and a raw asyncio upstream."""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
from urllib.parse import urlsplit

import pytest
from refsupport import (
    AG_INVALID,
    AG_MISSING,
    BIG_CHUNK,
    BIG_SIZE,
    GUIDE_KEY,
    KG_401,
    MULTI_KEYS,
    fetch,
    raw_exchange,
    status_of,
)


def echoed_headers(reply) -> dict[str, str]:
    assert reply.status == 200, reply.text
    return {k.lower(): v for k, v in reply.json()["headers"].items()}


# -- the guides' flows with the shipped example manifests ----------------------------------------------------------
def test_kgateway_guide_flow(served):
    denied = fetch(served.kgateway, "/headers")
    assert denied.status == 401
    assert denied.body == KG_401
    assert denied.header("content-type") == "text/plain"
    assert denied.header("www-authenticate") is None

    allowed = fetch(served.kgateway, "/headers", headers={"api-key": f"Bearer {GUIDE_KEY}"})
    echoed = echoed_headers(allowed)
    assert "api-key" not in echoed
    assert echoed["host"] == "www.example.com"

    wrong = fetch(served.kgateway, "/headers", headers={"api-key": "Bearer not-the-key"})
    assert (wrong.status, wrong.body) == (401, KG_401)


def test_kgateway_header_name_is_case_insensitive_on_the_wire(served):
    reply = fetch(served.kgateway, "/headers", headers=[("API-KEY", GUIDE_KEY)])
    assert "api-key" not in echoed_headers(reply)


def test_agentgateway_guide_flow(served):
    missing = fetch(served.agentgateway, "/headers")
    assert (missing.status, missing.body) == (401, AG_MISSING)
    assert missing.header("content-type") == "text/plain"
    assert missing.header("www-authenticate") is None

    invalid = fetch(served.agentgateway, "/headers", headers={"Authorization": "Bearer wrong"})
    assert (invalid.status, invalid.body) == (401, AG_INVALID)

    allowed = fetch(served.agentgateway, "/headers", headers={"Authorization": f"Bearer {GUIDE_KEY}"})
    assert "authorization" not in echoed_headers(allowed)

    lower = fetch(served.agentgateway, "/headers", headers={"Authorization": f"bearer {GUIDE_KEY}"})
    assert lower.status == 200


def test_unknown_host_is_404_not_auth(served):
    reply = fetch(served.kgateway, "/headers", host="nothing.example.org")
    assert reply.status == 404
    assert b"no route" in reply.body


# -- credential hiding and client id on the wire --------------------------------------------------------------------
def test_credential_hidden_from_every_source_and_client_id_set(served):
    reply = fetch(
        served.extra,
        "/anything?first=1&api_key=ignored&last=2",
        host="multi.test",
        headers=[
            ("X-Api-Key", MULTI_KEYS["svc-b"]),
            ("X-Client-Id", "forged"),
            ("Cookie", "theme=dark; api_key=zzz; lang=en"),
        ],
    )
    assert reply.status == 200, reply.text
    document = reply.json()
    echoed = {k.lower(): v for k, v in document["headers"].items()}
    assert "x-api-key" not in echoed
    assert echoed["x-client-id"] == "svc-b"
    assert echoed["cookie"] == "theme=dark; lang=en"
    assert document["args"] == {"first": "1", "last": "2"}
    assert document["url"].endswith("/anything?first=1&last=2")


def test_wrong_header_key_not_rescued_by_query_on_the_wire(served):
    reply = fetch(
        served.extra, f"/get?api_key={MULTI_KEYS['svc-a']}", host="multi.test", headers={"x-api-key": "wrong"}
    )
    assert (reply.status, reply.body) == (401, KG_401)
    ok = fetch(served.extra, f"/get?api_key={MULTI_KEYS['svc-a']}", host="multi.test")
    assert ok.status == 200
    assert ok.json()["args"] == {}


# -- proxying -------------------------------------------------------------------------------------------------------
def test_hop_by_hop_request_headers_removed(served):
    reply = fetch(
        served.extra,
        "/headers",
        host="open.test",
        headers=[
            ("Connection", "keep-alive, X-Custom-Hop"),
            ("X-Custom-Hop", "1"),
            ("Keep-Alive", "timeout=5"),
            ("TE", "trailers, deflate"),
            ("Proxy-Authorization", "Basic abc"),
            ("Proxy-Connection", "keep-alive"),
            ("X-Stays", "yes"),
        ],
    )
    echoed = echoed_headers(reply)
    for name in ("x-custom-hop", "keep-alive", "proxy-connection"):
        assert name not in echoed, name
    assert echoed["x-stays"] == "yes"
    # a kgateway listener forwards as Envoy does: Proxy-Authorization passes on, and of TE only `trailers` (for
    # gRPC; tests/envoy/test_envoy_hostile.py checks both side by side)
    assert echoed["proxy-authorization"] == "Basic abc"
    assert echoed["te"] == "trailers"


def test_hop_by_hop_response_headers_removed(served):
    reply = fetch(served.extra, "/hop", host="raw.test")
    assert reply.status == 200
    assert reply.header("x-keep-me") == "1"
    for name in ("keep-alive", "proxy-authenticate", "x-drop-me"):
        assert reply.header(name) is None, name


def test_forwarded_headers_added(served):
    reply = fetch(served.extra, "/headers?show_env=1", host="open.test")
    echoed = echoed_headers(reply)
    assert echoed["x-forwarded-for"] == "127.0.0.1"
    assert echoed["x-forwarded-proto"] == "http"
    chained = echoed_headers(
        fetch(served.extra, "/headers?show_env=1", host="open.test", headers={"X-Forwarded-For": "203.0.113.9"})
    )
    assert chained["x-forwarded-for"] == "203.0.113.9, 127.0.0.1"


def test_streams_httpbin_bytes_identically(served, httpbin):
    path = "/stream-bytes/102400?seed=7&chunk_size=4096"
    through = fetch(served.extra, path, host="open.test")
    direct = fetch(httpbin, path, host="localhost")
    assert through.status == direct.status == 200
    assert len(through.body) == 102400
    assert through.body == direct.body


def test_streams_a_large_chunked_response(served):
    reply = fetch(served.extra, "/big", host="raw.test", timeout=30)
    assert reply.status == 200
    assert len(reply.body) == BIG_SIZE
    expected = hashlib.sha256(BIG_CHUNK * (BIG_SIZE // len(BIG_CHUNK))).hexdigest()
    assert hashlib.sha256(reply.body).hexdigest() == expected


def test_response_is_streamed_not_buffered(served, raw_upstream):
    # The upstream sends a first chunk and holds the rest until we release it: we can only see the first chunk
    # before releasing if the gateway passes chunks on as they come.
    raw_upstream.reset_gate()
    parsed = urlsplit(served.extra)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=15)
    try:
        conn.request("GET", "/gate", headers={"Host": "raw.test"})
        response = conn.getresponse()
        assert response.status == 200
        assert response.read1(64) == b"first;"
        raw_upstream.release_gate()
        assert response.read() == b"released"
    finally:
        conn.close()


def test_post_body_forwarded(served):
    payload = json.dumps({"hello": "world", "n": list(range(50))}).encode()
    reply = fetch(
        served.extra,
        "/post",
        host="open.test",
        method="POST",
        body=payload,
        headers={"Content-Type": "application/json"},
    )
    assert reply.status == 200, reply.text
    assert reply.json()["json"] == {"hello": "world", "n": list(range(50))}


def test_chunked_request_body_forwarded(served):
    parsed = urlsplit(served.extra)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=10)
    try:
        chunks = [b"part-one;", b"part-two;", b"x" * 100_000]
        conn.request("PUT", "/put", body=iter(chunks), headers={"Host": "open.test"}, encode_chunked=True)
        response = conn.getresponse()
        assert response.status == 200
        assert json.loads(response.read())["data"] == b"".join(chunks).decode()
    finally:
        conn.close()


def test_upstream_status_and_headers_passed_through(served):
    reply = fetch(served.extra, "/status/418", host="open.test")
    assert reply.status == 418
    reply = fetch(served.extra, "/response-headers?X-From-Upstream=yes", host="open.test")
    assert reply.header("x-from-upstream") == "yes"
    reply = fetch(served.extra, "/redirect-to?url=/get", host="open.test")
    assert reply.status == 302  # redirects are passed on, not followed
    assert reply.header("location") == "/get"


@pytest.mark.parametrize(
    ("sent", "forwarded"),
    [
        ("/echo/a%2Fb/c", "/echo/a%2Fb/c"),  # escaped slashes are kept, as kgateway's Envoy keeps them
        ("/echo/a/../b", "/echo/b"),
        ("/echo/./x//y", "/echo/x/y"),
        ("/echo/x/%2e%2e/z?q=%2F&r=a+b", "/echo/z?q=%2F&r=a+b"),  # the query is never touched
        ("/echo/%7Ex%41", "/echo/~xA"),
    ],
)
def test_path_forwarded_as_kgateway_envoy_normalises_it(served, sent, forwarded):
    reply = fetch(served.extra, sent, host="raw.test")
    assert reply.status == 200
    request_line = reply.body.split(b"\r\n", 1)[0].decode()
    assert request_line == f"GET {forwarded} HTTP/1.1"


# -- malformed requests never get a 500 from the gateway -----------------------------------------------------------
def test_missing_host_is_400(served):
    raw = raw_exchange(served.kgateway, b"GET /headers HTTP/1.1\r\n\r\n")
    assert status_of(raw) == 400
    assert b"missing Host header" in raw


def test_http_1_0_is_426_as_on_envoy(served):
    raw = raw_exchange(served.kgateway, b"GET /headers HTTP/1.0\r\nHost: www.example.com\r\n\r\n")
    assert status_of(raw) == 426


@pytest.mark.parametrize(
    "data",
    [
        b"GARBAGE\r\n\r\n",
        b"GET /headers HTTP/1.1\r\nHost: www.example.com\r\nBad Header Line\r\n\r\n",
        b"GET /headers HTTP/1.1\r\nHost: www.example.com\r\nContent-Length: nope\r\n\r\n",
        b"GET /headers HTTP/9.9\r\nHost: www.example.com\r\n\r\n",
        b"GET /%ZZ%FF?api-key=%ZZ&%FF=%FF HTTP/1.1\r\nHost: www.example.com\r\nConnection: close\r\n\r\n",
        b"GET /headers HTTP/1.1\r\nHost: www.example.com\r\napi-key: \xff\xfe\r\nConnection: close\r\n\r\n",
        b"GET /headers HTTP/1.1\r\nHost: www.example.com:notaport\r\nConnection: close\r\n\r\n",
        b"GET /headers HTTP/1.1\r\nHost: [::1\r\nConnection: close\r\n\r\n",
        b"GET /headers HTTP/1.1\r\nHost: www.example.com\r\nCookie: ;;==;\xff\r\nConnection: close\r\n\r\n",
        b"BREW /headers HTTP/1.1\r\nHost: www.example.com\r\nConnection: close\r\n\r\n",
        b"GET http://www.example.com/headers HTTP/1.1\r\nHost: www.example.com\r\nConnection: close\r\n\r\n",
    ],
)
def test_malformed_requests_get_4xx_not_500(served, data):
    raw = raw_exchange(served.kgateway, data)
    if raw:  # the server may also just close a connection it cannot parse
        assert 400 <= status_of(raw) < 500, raw[:200]


@pytest.mark.parametrize(
    ("host", "query", "cookie"),
    [
        ("multi.test", "api_key=%ZZ&x=%FF", "api_key=%%%"),
        ("multi.test", "api_key=", 'api_key=""'),
        ("multi.test", "&&&=&api_key", "api_key"),
    ],
)
def test_odd_credentials_are_401_not_500(served, host, query, cookie):
    raw = raw_exchange(
        served.extra,
        f"GET /get?{query} HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n".encode(),
    )
    assert status_of(raw) == 401


def test_gateway_keeps_serving_after_malformed_requests(served):
    for data in (b"\x00\x01\x02\r\n\r\n", b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 5000 + b"\r\n"):
        with contextlib.suppress(OSError):
            raw_exchange(served.kgateway, data)
    reply = fetch(served.kgateway, "/headers", headers={"api-key": GUIDE_KEY})
    assert reply.status == 200


def test_websocket_upgrade_is_refused_cleanly(served):
    raw = raw_exchange(
        served.extra,
        b"GET /get HTTP/1.1\r\nHost: open.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
        b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    )
    if raw:
        assert status_of(raw) < 500
