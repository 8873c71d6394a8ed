"""Fixtures for the reference gateway tests: the real httpbin, a raw upstream and the gateway on real sockets."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
for path in (HERE.parents[1], HERE):  # the project root (maybe not installed) and the helpers next to this file
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from refsupport import (  # noqa: E402
    EXAMPLES,
    EXTRA_PORT,
    RawUpstream,
    Served,
    extra_documents,
)

from reference_impl.compile.snapshot import BackendMap  # noqa: E402
from reference_impl.resources import parse_manifest  # noqa: E402
from reference_impl.store import Store  # noqa: E402


@pytest.fixture(scope="session")
def httpbin() -> Iterator[str]:
    from reference_impl.upstream import HttpbinServer

    server = HttpbinServer(threads=8)
    url = server.start()
    try:
        yield url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def raw_upstream() -> Iterator[RawUpstream]:
    upstream = RawUpstream()
    upstream.start()
    try:
        yield upstream
    finally:
        upstream.stop()


@pytest.fixture(scope="session")
def served(httpbin: str, raw_upstream: RawUpstream) -> Iterator[Served]:
    from reference_impl.gateway.server import GatewayServer
    from reference_impl.resources import load_manifest_files

    store = Store(BackendMap({"httpbin": httpbin, "raw": f"http://127.0.0.1:{raw_upstream.port}"}))
    files = sorted((EXAMPLES / "kgateway").glob("*.yaml")) + sorted((EXAMPLES / "agentgateway").glob("*.yaml"))
    store.apply(load_manifest_files(files))
    store.apply([parse_manifest(d) for d in extra_documents()])
    server = GatewayServer(store)
    server.start_in_thread({8080: 0, 80: 0, EXTRA_PORT: 0})
    try:
        yield Served(store, server)
    finally:
        server.stop_thread()
