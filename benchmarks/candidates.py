"""The layer candidates for the gateway's hot path, served in a child process of bench_gateway.py.

The gateway's ASGI app (reference_impl.gateway.app.Gateway) is the same in every candidate; what changes:

- the server: the project's HTTP/1.1 server (reference_impl.gateway.http1) or uvicorn (httptools, uvloop);
- the upstream hop: the project's pooled proxy (reference_impl.gateway.proxy.Proxy) or `AiohttpProxy` below, one
  pooled aiohttp ClientSession streaming both ways, as the gateway forwarded before it had its own pool.

No access log (the CLI at `--log-level warning`), so the table compares the layers alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from reference_impl.gateway import hop_by_hop
from reference_impl.gateway.app import Gateway
from reference_impl.gateway.proxy import (
    BODYLESS,
    Proxy,
    UpstreamError,
    forwarded_headers,
    request_framing,
    upstream_framing,
)
from reference_impl.gateway.server import bind

SERVERS = ("http1", "uvicorn")
PROXIES = ("pool", "aiohttp")


class AiohttpProxy:
    """Proxy.forward's contract on aiohttp: one ClientSession (its connector pools keep-alive connections per
    upstream), the target sent byte for byte (`yarl.URL(..., encoded=True)`), bodies streamed both ways."""

    def __init__(self, connect_timeout: float = 5.0, read_timeout: float = 15.0) -> None:
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._session: Any = None

    def _client(self) -> Any:
        import aiohttp

        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=60),
                timeout=aiohttp.ClientTimeout(sock_connect=self.connect_timeout, sock_read=self.read_timeout),
                auto_decompress=False,
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding"),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def forward(self, scope: dict[str, Any], receive: Any, send: Any, *, base_url: str, headers: Any,
                      query_string: bytes, path: bytes | None = None) -> int:  # fmt: skip
        import aiohttp
        import yarl
        from multidict import CIMultiDict

        method: str = scope["method"]
        target = path if path is not None else scope.get("raw_path") or scope["path"].encode("utf-8")
        url = base_url + target.decode("latin-1") + ("?" + query_string.decode("latin-1") if query_string else "")
        framing = request_framing(scope["headers"])
        upstream_headers, _ = upstream_framing(
            forwarded_headers(headers, scope.get("client"), scope.get("scheme", "http")), framing
        )
        # aiohttp frames the body itself: it gets the body and no framing headers of ours
        upstream_headers = [(k, v) for k, v in upstream_headers if k not in (b"content-length", b"transfer-encoding")]
        try:
            response = await self._client().request(
                method,
                yarl.URL(url, encoded=True),
                headers=CIMultiDict((k.decode("latin-1"), v.decode("latin-1")) for k, v in upstream_headers),
                data=_body(receive) if framing != BODYLESS else None,
                allow_redirects=False,
            )
        except TimeoutError:
            raise UpstreamError(504, "upstream request timeout") from None
        except aiohttp.ClientError as error:
            raise UpstreamError(503, f"upstream connect error ({type(error).__name__})") from None
        try:
            response_headers = hop_by_hop.response_headers([(k.lower(), v) for k, v in response.raw_headers])
            await send({"type": "http.response.start", "status": response.status, "headers": response_headers})
            async for chunk in response.content.iter_any():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            response.release()
        return response.status


async def _body(receive: Any) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


async def serve_candidate(folder: Path, upstream_url: str, server: str, proxy: str, listener_port: int) -> None:
    """Serve the manifests in `folder` on a free port with the chosen layers; prints the port, then serves until
    terminated."""
    from reference_impl.compile.snapshot import BackendMap
    from reference_impl.folder import ManifestFolder
    from reference_impl.gateway import http1
    from reference_impl.store import Store

    store = Store(BackendMap({"upstream": upstream_url}))
    ManifestFolder(folder, store).sync()
    gateway = Gateway(store, Proxy() if proxy == "pool" else AiohttpProxy())  # type: ignore[arg-type]
    app = gateway.listener(listener_port)
    sock = bind("127.0.0.1", 0)
    print(sock.getsockname()[1], flush=True)
    if server == "http1":
        await http1.serve(app, sock)
        await asyncio.Event().wait()
    else:
        import uvicorn

        config = uvicorn.Config(app, http="httptools", lifespan="off", access_log=False, log_level="warning")
        await uvicorn.Server(config).serve(sockets=[sock])
