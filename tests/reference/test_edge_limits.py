"""The gateway's edge: Envoy's request limits and checks, timeouts, pipelining, upgrades, one pool per upstream."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
from refsupport import (
    RecordingUpstream,
    fetch,
    gateway,
    parse_manifest,
    route,
    rule,
    secret,
    send_raw,
    status_of,
    statuses,
    target,
    traffic_policy,
)

from reference_impl.compile.snapshot import BackendMap
from reference_impl.gateway.http1 import Limits
from reference_impl.gateway.pool import UpstreamLimits
from reference_impl.gateway.proxy import Proxy
from reference_impl.gateway.server import GatewayServer
from reference_impl.store import Store

KEY = "edge-limits-key-0123456789"


class Edge:
    def __init__(self, server: GatewayServer, healthy: RecordingUpstream, hung: RecordingUpstream) -> None:
        self.server = server
        self.healthy = healthy
        self.hung = hung
        self.url = server.url(8080)
        parts = urlsplit(self.url)
        self.address = (parts.hostname, parts.port)


@pytest.fixture(scope="module")
def edge() -> Iterator[Edge]:
    healthy = RecordingUpstream().start()
    hung = RecordingUpstream().start()
    store = Store(BackendMap({"healthy": healthy.url, "hung": hung.url}))
    documents = [
        gateway(),
        secret("keys", client=KEY),
        route("open", hostnames=["open.test"], rules=[rule(backend="healthy")]),
        route("hung", hostnames=["hung.test"], rules=[rule(backend="hung")]),
        route("auth", hostnames=["auth.test"], rules=[rule(backend="healthy")]),
        traffic_policy(targets=[target("HTTPRoute", "auth")], secretRef={"name": "keys"}),
    ]
    store.apply([parse_manifest(d) for d in documents])
    proxy = Proxy(limits=UpstreamLimits(max_connections=8, max_pending_requests=8), route_timeout=30)
    server = GatewayServer(store, proxy=proxy, limits=Limits(request_headers_timeout=1.0, idle_timeout=1.5))
    server.start_in_thread({8080: 0})
    try:
        yield Edge(server, healthy, hung)
    finally:
        server.stop_thread()
        healthy.stop()
        hung.stop()


def request(host: str, *lines: str, path: str = "/x", close: bool = True) -> bytes:
    head = [f"GET {path} HTTP/1.1", f"Host: {host}", *lines] + (["Connection: close"] if close else [])
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")


# -- the request head: Envoy's limits ---------------------------------------------------------------------------
@pytest.mark.parametrize(("size", "status"), [(59 * 1024, 200), (61 * 1024, 431)])
def test_request_headers_are_limited_to_60_kib(edge, size, status):
    assert status_of(send_raw(edge.url, request("open.test", "x-big: " + "b" * size))) == status


def test_an_8_mib_header_is_refused_without_being_read_whole(edge):
    with socket.create_connection(edge.address, timeout=10) as sock:
        sock.sendall(b"GET /x HTTP/1.1\r\nHost: open.test\r\nx-huge: ")
        sent = 0
        try:
            while sent < 8 * 1024 * 1024:
                sock.sendall(b"h" * 65536)
                sent += 65536
        except (BrokenPipeError, ConnectionResetError):
            pass  # the gateway answered and closed long before the header ended
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except (ConnectionResetError, TimeoutError):
            pass
    assert status_of(received) == 431
    assert sent < 8 * 1024 * 1024 or b"Request Header Fields Too Large" in received
    assert fetch(edge.url, "/x", host="open.test").status == 200


@pytest.mark.parametrize(("count", "status"), [(98, 200), (101, 431)])
def test_at_most_100_request_headers(edge, count, status):
    lines = [f"x-h{i}: {i}" for i in range(count)]
    assert status_of(send_raw(edge.url, request("open.test", *lines))) == status


def test_a_head_that_never_ends_is_closed_after_the_headers_timeout(edge):
    sockets = []
    for _ in range(200):
        sock = socket.create_connection(edge.address, timeout=10)
        sock.sendall(b"GET /x HTTP/1.1\r\nHost: open.test\r\nx-slow: ")
        sockets.append(sock)
    try:
        for sock in sockets:  # each is answered 408 and closed by the gateway (timeout 1 s here)
            received = b""
            while chunk := sock.recv(65536):
                received += chunk
            assert status_of(received) == 408
    finally:
        for sock in sockets:
            sock.close()
    assert fetch(edge.url, "/x", host="open.test").status == 200


def test_an_idle_keep_alive_connection_is_closed(edge):
    with socket.create_connection(edge.address, timeout=10) as sock:
        sock.sendall(request("open.test", close=False))
        first = sock.recv(65536)
        assert status_of(first) == 200
        assert sock.recv(65536) == b""  # closed by the gateway once idle (1.5 s here), not held forever


# -- request checks, as Envoy with kgateway's settings answers them ---------------------------------------------
@pytest.mark.parametrize(
    ("data", "status"),
    [
        # RFC 9112 section 3.2: two Host headers are a bad request (Envoy fuses them instead: a listed divergence)
        (b"GET /anything/x HTTP/1.1\r\nHost: open.test\r\nHost: auth.test\r\n\r\n", 400),
        (b"GET /x HTTP/1.1\r\n\r\n", 400),
        (b"GET /x HTTP/1.1\r\nHost: open.test evil\r\n\r\n", 400),
        (b"GET /x HTTP/1.1\r\nHost: open.test/a\r\n\r\n", 400),
        (b"GET /x HTTP/1.0\r\nHost: open.test\r\n\r\n", 426),
        (b"GET /x#frag HTTP/1.1\r\nHost: open.test\r\n\r\n", 400),
        (b"GET /x/%00 HTTP/1.1\r\nHost: open.test\r\n\r\n", 400),
        (b"GET x HTTP/1.1\r\nHost: open.test\r\n\r\n", 400),
        (b"GET https://open.test/x HTTP/1.1\r\nHost: open.test\r\n\r\n", 403),
        (b"CONNECT open.test:80 HTTP/1.1\r\nHost: open.test:80\r\n\r\n", 404),
        (b"GET /x HTTP/1.1\r\nHost: open.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", 403),
        (b"POST /x HTTP/1.1\r\nHost: open.test\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501),
        (b"POST /x HTTP/1.1\r\nHost: open.test\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400),
        (
            b"POST /x HTTP/1.1\r\nHost: open.test\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            400,
        ),
        (b"get /x HTTP/1.1\r\nHost: open.test\r\n\r\n", 400),
        (b"GET /x HTTP/1.1\r\nHost: open.test\r\nX A: b\r\n\r\n", 400),
    ],
)
def test_hostile_framing_is_refused_with_envoys_status(edge, data, status):
    seen_before = len(edge.healthy.received)
    assert status_of(send_raw(edge.url, data)) == status
    assert len(edge.healthy.received) == seen_before  # nothing was forwarded


def test_absolute_form_is_routed_and_forwarded_by_its_authority(edge):
    raw = send_raw(edge.url, b"GET http://auth.test/x HTTP/1.1\r\nHost: open.test\r\nConnection: close\r\n\r\n")
    assert status_of(raw) == 401  # routed to auth.test, whatever Host said
    raw = send_raw(edge.url, b"GET http://open.test/y HTTP/1.1\r\nHost: auth.test\r\nConnection: close\r\n\r\n")
    assert status_of(raw) == 200
    assert edge.healthy.received[-1].header(b"host") == [b"open.test"]


# -- pipelining and 100-continue ---------------------------------------------------------------------------------
def test_pipelined_requests_are_answered_in_order(edge):
    raw = send_raw(
        edge.url,
        request("auth.test", close=False)
        + request("auth.test", f"api-key: {KEY}", close=False)
        + request("open.test", path="/last"),
    )
    assert statuses(raw) == [401, 200, 200]


def test_100_continue_only_for_an_allowed_request(edge):
    denied = b"POST /x HTTP/1.1\r\nHost: auth.test\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"
    raw = send_raw(edge.url, denied)
    assert statuses(raw) == [401]  # no invitation to send a body that would be refused
    with socket.create_connection(edge.address, timeout=10) as sock:
        sock.sendall(
            f"POST /x HTTP/1.1\r\nHost: auth.test\r\napi-key: {KEY}\r\nExpect: 100-continue\r\n"
            "Content-Length: 5\r\nConnection: close\r\n\r\n".encode()
        )
        assert sock.recv(65536).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        sock.sendall(b"hello")
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    assert statuses(received) == [200]
    assert not edge.healthy.received[-1].header(b"expect")  # handled here, not passed on


# -- one hung upstream does not starve another ------------------------------------------------------------------
def test_a_hung_upstream_does_not_starve_the_others(edge):
    hung_requests = 30  # well past the hung upstream's 8 connections + 8 waiting

    def hang(i: int) -> int:
        try:
            return status_of(send_raw(edge.url, request("hung.test", path=f"/hang/{i}"), timeout=3))
        except (OSError, IndexError, ValueError):
            return 0  # still hanging when the client gave up

    with ThreadPoolExecutor(hung_requests) as pool:
        hanging = [pool.submit(hang, i) for i in range(hung_requests)]
        deadline = time.monotonic() + 10
        while len(edge.hung.received) < 8 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(edge.hung.received) >= 8  # the hung upstream holds all its connections now
        # ... and the healthy upstream still answers at once, while those requests hang
        for _ in range(20):
            assert fetch(edge.url, "/x", host="open.test").status == 200
        results = [f.result() for f in hanging]
    assert results.count(503) >= hung_requests - 16  # beyond 8 + 8 the hung upstream's pool refuses at once
    assert all(code in (0, 503) for code in results)


# -- the reload never blocks requests ---------------------------------------------------------------------------
def test_requests_are_answered_while_a_large_manifest_reloads(tmp_path):
    from reference_impl.folder import ManifestFolder

    upstream = RecordingUpstream().start()
    folder = tmp_path / "manifests"
    folder.mkdir()
    # ~3 MB of keys, in four Secrets: the API server refuses a Secret over 1 MiB.
    parts = [
        f"apiVersion: v1\nkind: Secret\nmetadata: {{name: big-{part}}}\nstringData:\n"
        + "\n".join(f"  client-{i}: key-{i:07d}-{'k' * 60}" for i in range(part * 7_500, (part + 1) * 7_500))
        for part in range(4)
    ]
    (folder / "edge.yaml").write_text(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: gw}\n"
        "spec: {gatewayClassName: kgateway, listeners: [{name: http, port: 8080, protocol: HTTP}]}\n---\n"
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r}\n"
        "spec: {parentRefs: [{name: gw}], rules: [{backendRefs: [{name: up, port: 80}]}]}\n"
    )
    store = Store(BackendMap({"up": upstream.url}))
    watched = ManifestFolder(folder, store)
    watched.sync()
    answered: list[float] = []
    window: dict[str, float] = {}

    async def scenario() -> None:
        server = GatewayServer(store)
        await server.start({8080: 0})
        url = server.url(8080)
        (folder / "keys.yaml").write_text("\n---\n".join(parts) + "\n")
        stop = threading.Event()

        def client() -> None:
            while not stop.is_set():
                if fetch(url, "/x", host="any.test").status == 200:
                    answered.append(time.monotonic())

        thread = threading.Thread(target=client)
        thread.start()
        await asyncio.sleep(0.2)
        window["start"] = time.monotonic()
        assert await watched.reload()
        window["end"] = time.monotonic()
        await asyncio.sleep(0.2)
        stop.set()
        await asyncio.to_thread(thread.join)
        await server.stop()

    try:
        asyncio.run(scenario())
    finally:
        upstream.stop()
    during = [t for t in answered if window["start"] < t < window["end"]]
    assert len(during) >= 5, f"only {len(during)} answers while the reload ran ({window['end'] - window['start']:.2f}s)"
    assert [secret.metadata.name for secret in store.list("Secret")] == ["big-0", "big-1", "big-2", "big-3"]
