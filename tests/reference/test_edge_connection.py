"""The edge holds at the connection level: what a client's Connection header, trailers, pipelining, slow or vanishing
clients and hung upstreams can make the gateway do. Each test is one way an attacker tried to get an unauthenticated
request through, or to make the gateway hold more than it should; tests/envoy/test_envoy_hostile.py checks the same
byte sequences against Envoy side by side.

The gateway serves an open rule (/public) and a protected rule (/private) of one route on one upstream, so a request
smuggled past the open rule would reach the protected path's upstream.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
from refsupport import (
    RecordingUpstream,
    gateway,
    parse_manifest,
    responses,
    route,
    rule,
    secret,
    send_raw,
    statuses,
    target,
    traffic_policy,
)

from reference_impl.compile.snapshot import BackendMap
from reference_impl.gateway.http1 import Limits
from reference_impl.gateway.proxy import Proxy
from reference_impl.gateway.server import GatewayServer
from reference_impl.store import Store

KEY = "edge-connection-key-0123456789"
HOST = "shared.test"
TIMEOUT = 1.0  # the head and route timeouts here; as in Envoy's defaults, the stream idle timeout is longer
IDLE = 2 * TIMEOUT
SWEEP = 0.25  # the server checks its deadlines this often, against a clock it reads as often
LIMITS = Limits(request_headers_timeout=TIMEOUT, stream_idle_timeout=IDLE, idle_timeout=30.0)


class Edge:
    def __init__(self, server: GatewayServer, upstream: RecordingUpstream) -> None:
        self.server = server
        self.upstream = upstream
        self.url = server.url(8080)
        parts = urlsplit(self.url)
        self.address = (parts.hostname, parts.port)

    def seen(self) -> int:
        return len(self.upstream.received)


@pytest.fixture(scope="module")
def edge() -> Iterator[Edge]:
    upstream = RecordingUpstream().start()
    store = Store(BackendMap({"shared": upstream.url}))
    documents = [
        gateway(),
        secret("keys", client=KEY),
        route(
            "shared",
            hostnames=[HOST],
            rules=[rule(path="/public", backend="shared"), rule(name="private", path="/private", backend="shared")],
        ),
        route("hangs", hostnames=["hang.test"], rules=[rule(backend="shared")]),
        traffic_policy(targets=[target("HTTPRoute", "shared", "private")], secretRef={"name": "keys"}),
    ]
    store.apply([parse_manifest(d) for d in documents])
    server = GatewayServer(store, proxy=Proxy(route_timeout=TIMEOUT), limits=LIMITS)
    server.start_in_thread({8080: 0})
    try:
        yield Edge(server, upstream)
    finally:
        server.stop_thread()
        upstream.stop()


def head(method: str, path: str, *lines: str, host: str = HOST) -> bytes:
    return ("\r\n".join([f"{method} {path} HTTP/1.1", f"Host: {host}", *lines]) + "\r\n\r\n").encode("latin-1")


def settle(edge: Edge, count: int, timeout: float = 2.0) -> None:
    """Give the upstream a moment to read anything more the gateway sent it (a smuggled request would come now)."""
    deadline = time.monotonic() + timeout
    while edge.seen() < count and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)


# -- Connection may not unframe a body, remove Host, or hide a key from the decision ----------------------------
SMUGGLED = b"GET /private/admin HTTP/1.1\r\nHost: shared.test\r\nx-smuggled: 1\r\n\r\n"


@pytest.mark.parametrize("option", ["content-length", "Content-Length, close", "keep-alive, content-length"])
def test_connection_naming_content_length_cannot_smuggle_a_request(edge, option):
    before = edge.seen()
    data = head("POST", "/public/x", f"Connection: {option}", f"Content-Length: {len(SMUGGLED)}") + SMUGGLED
    assert statuses(send_raw(edge.url, data, timeout=3, complete=lambda r: len(statuses(r)) == 1)) == [200]
    settle(edge, before + 1)
    received = edge.upstream.received[before:]
    assert [(r.method, r.target) for r in received] == [(b"POST", b"/public/x")]  # one request, never two
    assert received[0].body == SMUGGLED  # the bytes arrive as the body they were, re-framed
    assert received[0].header(b"transfer-encoding") == [b"chunked"] and not received[0].header(b"content-length")


def test_a_shared_upstream_connection_is_not_poisoned(edge):
    data = head("POST", "/public/x", "Connection: content-length", f"Content-Length: {len(SMUGGLED)}") + SMUGGLED
    send_raw(edge.url, data, timeout=3, complete=lambda r: len(statuses(r)) == 1)
    for i in range(5):  # keyed requests from other clients, each on a new connection, get their own answers
        raw = send_raw(
            edge.url, head("GET", f"/private/{i}", f"api-key: {KEY}", f"x-hostile-id: {i}", "Connection: close")
        )
        (answer,) = responses(raw)
        assert (answer.status, answer.fields.get(b"x-hostile-id")) == (200, str(i).encode())


@pytest.mark.parametrize(
    "option", ["host", "HOST", "close, Host", "x-forwarded-for", "x-forwarded-proto", ":authority"]
)
def test_connection_naming_host_or_what_the_gateway_sets_is_a_bad_request(edge, option):
    before = edge.seen()
    assert statuses(send_raw(edge.url, head("GET", "/public/x", f"Connection: {option}, close"))) == [400]
    settle(edge, before)
    assert edge.seen() == before


def test_a_key_in_a_header_connection_names_is_not_a_key(edge):
    data = head("GET", "/private/x", "Connection: api-key, close", f"api-key: {KEY}")
    assert statuses(send_raw(edge.url, data)) == [401]


def test_connection_naming_transfer_encoding_removes_it_and_the_body_stays_framed(edge):
    before = edge.seen()
    data = head("POST", "/public/x", "Connection: transfer-encoding, close", "Transfer-Encoding: chunked")
    assert statuses(send_raw(edge.url, data + b"5\r\nhello\r\n0\r\n\r\n")) == [200]
    settle(edge, before + 1)
    (received,) = edge.upstream.received[before:]
    assert received.body == b"hello" and received.header(b"transfer-encoding") == [b"chunked"]


def test_other_nominated_headers_are_removed_before_forwarding(edge):
    before = edge.seen()
    data = head("GET", "/public/x", "Connection: x-foo, cookie, close", "x-foo: 1", "Cookie: a=b", "x-bar: 2")
    assert statuses(send_raw(edge.url, data)) == [200]
    settle(edge, before + 1)
    (received,) = edge.upstream.received[before:]
    assert not received.header(b"x-foo") and not received.header(b"cookie") and received.header(b"x-bar") == [b"2"]
    assert received.header(b"host") == [HOST.encode()]


# -- trailers are not headers ----------------------------------------------------------------------------------
def chunked_with_trailers(path: str, *trailers: str) -> bytes:
    return head("POST", path, "Transfer-Encoding: chunked", "Connection: close") + (
        b"5\r\nhello\r\n0\r\n" + "".join(f"{t}\r\n" for t in trailers).encode("latin-1") + b"\r\n"
    )


def test_a_key_in_the_trailers_is_not_a_key(edge):
    before = edge.seen()
    assert statuses(send_raw(edge.url, chunked_with_trailers("/private/x", f"api-key: {KEY}"))) == [401]
    settle(edge, before)
    assert edge.seen() == before


def test_trailers_never_reach_the_headers(edge):
    before = edge.seen()
    data = chunked_with_trailers("/public/x", "Connection: host", "x-trailer: 1", f"api-key: {KEY}")
    assert statuses(send_raw(edge.url, data)) == [200]
    settle(edge, before + 1)
    (received,) = edge.upstream.received[before:]
    assert received.header(b"host") == [HOST.encode()]
    assert not received.header(b"x-trailer") and not received.header(b"api-key")
    assert received.body == b"hello"


def test_trailers_count_against_the_header_limit(edge):
    data = chunked_with_trailers("/public/x", *(f"x-t{i}: {'t' * 1000}" for i in range(70)))
    assert 431 in statuses(send_raw(edge.url, data))


# -- whitespace: counted toward the limit, and not part of a value ----------------------------------------------
@pytest.mark.parametrize(("spaces", "status"), [(58 * 1024, 200), (61 * 1024, 431)])
def test_whitespace_counts_toward_the_60_kib_head_limit(edge, spaces, status):
    data = head("GET", "/public/x", "x-a:" + " " * spaces + "v", "Connection: close")
    assert statuses(send_raw(edge.url, data)) == [status]


def test_a_270_kb_head_of_whitespace_is_refused(edge):
    data = head("GET", "/public/x", *("x-a:" + " " * 9000 + "v" for _ in range(30)), "Connection: close")
    assert len(data) > 270_000
    assert statuses(send_raw(edge.url, data)) == [431]


@pytest.mark.parametrize("padding", ["   ", "\t", " \t "])
def test_trailing_whitespace_is_not_part_of_a_key(edge, padding):
    for value in (KEY, f"Bearer {KEY}"):
        data = head("GET", "/private/x", f"api-key: {value}{padding}", "Connection: close")
        assert statuses(send_raw(edge.url, data)) == [200]


# -- pipelining: in order, one answer per request, and a bad request never overtakes a good one --------------------
@pytest.mark.parametrize(
    ("bad", "status"),
    [
        (head("GET", "/public/b", "Bad Header: x"), 400),
        (head("GET", "/public/b", "x-big: " + "b" * 62 * 1024), 431),
        (b"GET /public/b HTTP/1.1\r\nHost: shared.test\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400),
    ],
)
def test_a_malformed_pipelined_request_is_answered_after_the_one_before_it(edge, bad, status):
    before = edge.seen()
    raw = send_raw(edge.url, head("GET", "/public/a", "x-hostile-id: 1") + bad)
    assert statuses(raw) == [200, status]
    assert responses(raw)[0].fields[b"x-hostile-id"] == b"1"
    settle(edge, before + 1)
    assert [r.target for r in edge.upstream.received[before:]] == [b"/public/a"]


def test_the_head_timeout_holds_for_a_pipelined_request(edge):
    with socket.create_connection(edge.address, timeout=10) as sock:
        sock.sendall(head("GET", "/public/a") + b"GET /public/b HTTP/1.1\r\nHost: sh")
        started = time.monotonic()
        received = b""
        try:
            for byte in b"ared.test\r\nx-slow: abcdefghijklmnopqrstuvwxyz":  # a byte every 0.3 s, never the end
                sock.sendall(bytes([byte]))
                time.sleep(0.3)
                sock.settimeout(0.01)
                with contextlib.suppress(TimeoutError):
                    received += sock.recv(65536)
                if received.count(b"HTTP/1.1 ") == 2:
                    break
        except (BrokenPipeError, ConnectionResetError):
            pass
        sock.settimeout(5)
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except (ConnectionResetError, TimeoutError):
            pass
    assert statuses(received) == [200, 408]
    assert time.monotonic() - started < TIMEOUT + 3  # not held open while it trickles


def test_a_client_that_never_reads_holds_a_bounded_amount(edge):
    """Backpressure: the next pipelined request waits until the client has read enough of the answers before it."""
    before = edge.seen()
    count, size = 48, 256 * 1024
    pipeline = b"".join(
        head("GET", f"/public/big/{size}", f"x-hostile-id: {i}", "x-pad: " + "p" * 50_000) for i in range(count)
    )
    with socket.create_connection(edge.address, timeout=10) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)

        def send() -> None:
            with contextlib.suppress(OSError):
                sock.sendall(pipeline + head("GET", "/public/end", "x-hostile-id: end", "Connection: close"))

        with ThreadPoolExecutor(1) as pool:
            pool.submit(send)
            time.sleep(IDLE / 2)  # not reading (for less than the stream idle timeout, which would end it)
            forwarded = edge.seen() - before
            held = [c.buffered for c in edge.server.connections()]
            assert forwarded < count // 2, f"{forwarded} requests forwarded to a client that reads nothing"
            assert max(held) <= LIMITS.max_buffered_input + 2 * size, held
            received = b""
            while chunk := sock.recv(1 << 20):
                received += chunk
    answers = responses(received)
    assert [a.fields.get(b"x-hostile-id") for a in answers] == [str(i).encode() for i in range(count)] + [b"end"]


# -- every wait has a deadline -------------------------------------------------------------------------------------
def test_clients_that_go_away_cancel_their_upstream_requests(edge):
    closed_before = len(edge.upstream.closed)
    sockets = []
    for i in range(20):
        sock = socket.create_connection(edge.address, timeout=10)
        sock.sendall(head("GET", f"/hang/{i}", host="hang.test"))
        sockets.append(sock)
    settle(edge, 0)
    time.sleep(0.2)
    for sock in sockets:
        sock.close()
    deadline = time.monotonic() + 0.5  # well before the route timeout would end them
    while len(edge.upstream.closed) < closed_before + 20 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(edge.upstream.closed) - closed_before == 20


def test_a_hung_upstream_gets_a_504_at_the_route_timeout(edge):
    started = time.monotonic()
    raw = send_raw(edge.url, head("GET", "/hang/route", "Connection: close", host="hang.test"), timeout=10)
    (answer,) = responses(raw)
    assert (answer.status, answer.body) == (504, b"upstream request timeout")
    assert TIMEOUT <= time.monotonic() - started < TIMEOUT + 2


def test_a_body_that_stops_gets_a_408_at_the_stream_idle_timeout(edge):
    started = time.monotonic()
    with socket.create_connection(edge.address, timeout=10) as sock:
        sock.sendall(head("POST", "/public/x", "Content-Length: 100") + b"0123456789")
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    assert statuses(received) == [408]
    assert IDLE - SWEEP <= time.monotonic() - started < IDLE + 2
    assert not [c for c in edge.server.connections() if c.cycle is not None]
