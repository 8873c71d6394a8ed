"""Upstream failures become 502 / 503 / 504 with clear bodies; the gateway keeps serving."""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

import pytest
from refsupport import fetch, free_port, gateway, parse_manifest, route, rule

from reference_impl.compile.snapshot import BackendMap
from reference_impl.gateway.proxy import Proxy
from reference_impl.gateway.server import GatewayServer
from reference_impl.store import Store


@pytest.fixture(scope="module")
def failing(raw_upstream):
    closed = free_port()  # bound and released: nothing listens there
    store = Store(BackendMap({"raw": f"http://127.0.0.1:{raw_upstream.port}", "closed": f"http://127.0.0.1:{closed}"}))
    store.apply(
        [
            parse_manifest(d)
            for d in (
                gateway(),
                route("raw", hostnames=["raw.test"], rules=[rule(backend="raw")]),
                route("closed", hostnames=["closed.test"], rules=[rule(backend="closed")]),
                route("unmapped", hostnames=["unmapped.test"], rules=[rule(backend="nowhere")]),
            )
        ]
    )
    server = GatewayServer(store, proxy=Proxy(route_timeout=0.5, connect_timeout=2))
    server.start_in_thread({8080: 0})
    try:
        yield server.url(8080)
    finally:
        server.stop_thread()


def test_closed_port_is_503(failing):
    reply = fetch(failing, "/", host="closed.test")
    assert reply.status == 503
    assert reply.text.startswith("upstream connect error")
    assert reply.header("content-type") == "text/plain"


def test_slow_upstream_is_504(failing):
    reply = fetch(failing, "/sleep", host="raw.test")
    assert reply.status == 504
    assert reply.text == "upstream request timeout"


@pytest.mark.parametrize("path", ["/garbage", "/close"])
def test_broken_upstream_is_502(failing, path):
    reply = fetch(failing, path, host="raw.test")
    assert reply.status == 502
    assert reply.text.startswith("upstream protocol error")


@pytest.mark.parametrize("path", ["/cut", "/chunkcut"])
def test_cut_mid_body_is_seen_as_a_short_read(failing, path):
    # The status line is gone already, so the client must see an incomplete body, never a complete-looking one.
    parsed = urlsplit(failing)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=10)
    try:
        conn.request("GET", path, headers={"Host": "raw.test"})
        response = conn.getresponse()
        assert response.status == 200  # headers were already on their way
        with pytest.raises(http.client.IncompleteRead):
            response.read()
    finally:
        conn.close()


def test_unmapped_backend_is_500_from_configuration(failing):
    reply = fetch(failing, "/", host="unmapped.test")
    assert reply.status == 500
    assert "backend map" in reply.text


def test_still_serving_after_failures(failing):
    assert fetch(failing, "/ok", host="raw.test").body == b"ok"
