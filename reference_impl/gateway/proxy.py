"""Forwarding to upstreams over pooled keep-alive connections, streaming both ways."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

from reference_impl.auth.decision import Headers
from reference_impl.gateway.pool import Exchange, Pools, UpstreamConnection, UpstreamError, UpstreamLimits

__all__ = ["HOP_BY_HOP", "Proxy", "UpstreamError", "forwarded_headers", "strip_hop_by_hop"]

Scope = dict[str, Any]

# RFC 9110 section 7.6.1 connection-specific fields, plus the legacy ones proxies still strip. `expect` too: the
# gateway answers `100-continue` itself once the request is allowed.
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"expect",
    }
)
BODYLESS_METHODS = frozenset({"GET", "HEAD", "DELETE", "OPTIONS", "TRACE"})


def strip_hop_by_hop(headers: Headers, hop_by_hop: frozenset[bytes] = HOP_BY_HOP) -> Headers:
    """Remove hop-by-hop headers and any header the Connection header names."""
    named = {
        token.strip().lower()
        for key, value in headers
        if key == b"connection"
        for token in value.split(b",")
        if token.strip()
    }
    return [(k, v) for k, v in headers if k not in hop_by_hop and k not in named]


def forwarded_headers(headers: Headers, client: tuple[str, int] | None, scheme: str) -> Headers:
    """Append the peer to X-Forwarded-For and set X-Forwarded-Proto, as an edge proxy does."""
    prior = [v for k, v in headers if k == b"x-forwarded-for"]
    peer = (client[0] if client else "unknown").encode("latin-1")
    chain = b", ".join([*prior, peer])
    kept = [(k, v) for k, v in headers if k not in (b"x-forwarded-for", b"x-forwarded-proto")]
    return [*kept, (b"x-forwarded-for", chain), (b"x-forwarded-proto", scheme.encode("latin-1"))]


class Proxy:
    """Forwards requests; one connection pool per upstream (see reference_impl.gateway.pool)."""

    def __init__(
        self,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
        limits: UpstreamLimits | None = None,
    ) -> None:
        self.read_timeout = read_timeout
        base = limits or UpstreamLimits()
        self.limits = UpstreamLimits(base.max_connections, base.max_pending_requests, connect_timeout)
        self.pools = Pools(self.limits)
        self._origins: dict[str, tuple[str, int, bytes]] = {}

    async def close(self) -> None:
        self.pools.close()

    def _origin(self, base_url: str) -> tuple[str, int, bytes]:
        origin = self._origins.get(base_url)
        if origin is None:
            parts = urlsplit(base_url)
            origin = (parts.hostname or "127.0.0.1", parts.port or 80, parts.path.rstrip("/").encode("latin-1"))
            self._origins[base_url] = origin
        return origin

    async def forward(
        self,
        scope: Scope,
        receive: Any,
        send: Any,
        *,
        base_url: str,
        headers: Headers,
        query_string: bytes,
        path: bytes | None = None,
        hop_by_hop: frozenset[bytes] = HOP_BY_HOP,
    ) -> int:
        """Send the request upstream and stream the response back. Returns the status sent to the client.

        `path` is the (normalised) path to forward, default the scope's raw path; `hop_by_hop` the request headers
        not forwarded. Raises UpstreamError before the
        response has started; once it has, a failure cuts the response short instead."""
        host, port, base_path = self._origin(base_url)
        method: str = scope["method"]
        target = base_path + (path if path is not None else scope.get("raw_path") or scope["path"].encode("utf-8"))
        if query_string:
            target += b"?" + query_string
        upstream_headers = forwarded_headers(
            strip_hop_by_hop(headers, hop_by_hop), scope.get("client"), scope.get("scheme", "http")
        )
        chunked = False
        has_length = False
        for name, _ in headers:
            if name == b"content-length":
                has_length = True
            elif name == b"transfer-encoding":
                chunked = True
        if chunked and not has_length:
            upstream_headers.append((b"transfer-encoding", b"chunked"))
        head = b"".join(
            [
                method.encode("ascii"),
                b" ",
                target,
                b" HTTP/1.1\r\n",
                *(b"%s: %s\r\n" % pair for pair in upstream_headers),
                b"\r\n",
            ]
        )
        has_body = has_length or chunked or method not in BODYLESS_METHODS
        pool = self.pools.get(host, port)
        exchange = await self._exchange(
            pool, head, receive if has_body else None, chunked and not has_length, method != "HEAD"
        )
        try:
            return await self._relay(exchange, send, method)
        finally:
            reusable = exchange.done and exchange.keep_alive and exchange.error is None
            pool.release(exchange.connection, reusable)

    async def _exchange(self, pool: Any, head: bytes, receive: Any, chunked: bool, expect_body: bool) -> Exchange:
        """Send the request and wait for the response head. A reused connection that turns out to be closed is
        replaced once, when nothing of a body has been sent yet."""
        for attempt in (1, 2):
            connection: UpstreamConnection = await pool.acquire()
            exchange = Exchange(connection, expect_body)
            connection.exchange = exchange
            reused = connection.used
            try:
                connection.transport.write(head)  # type: ignore[union-attr]
                if receive is not None:
                    await self._send_body(connection, receive, chunked)
                await self._wait_head(exchange)
                return exchange
            except UpstreamError:
                pool.release(connection, reusable=False)
                if attempt == 1 and reused and receive is None and not exchange.received_any:
                    continue
                raise
            except BaseException:
                pool.release(connection, reusable=False)
                raise
        raise AssertionError("unreachable")

    async def _send_body(self, connection: UpstreamConnection, receive: Any, chunked: bool) -> None:
        async for chunk in _request_body(receive):
            if not connection.open:
                raise UpstreamError(502, "upstream protocol error: the upstream closed the connection")
            connection.transport.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)  # type: ignore[union-attr]
            await connection.drain()
        if chunked and connection.open:
            connection.transport.write(b"0\r\n\r\n")  # type: ignore[union-attr]

    async def _wait_head(self, exchange: Exchange) -> None:
        loop = asyncio.get_running_loop()
        timer = loop.call_later(self.read_timeout, exchange.fail, UpstreamError(504, "upstream request timeout"))
        try:
            while not exchange.status and exchange.error is None:
                await exchange.wait()
        finally:
            timer.cancel()
        if exchange.error is not None:
            raise exchange.error

    async def _relay(self, exchange: Exchange, send: Any, method: str) -> int:
        # Also drop the headers the upstream's Connection header names (RFC 9110 section 7.6.1).
        response_headers = strip_hop_by_hop(exchange.headers)
        loop = asyncio.get_running_loop()
        try:
            await send({"type": "http.response.start", "status": exchange.status, "headers": response_headers})
            return await self._relay_body(exchange, send, loop)
        except OSError:  # the client went away: stop reading the upstream; the connection is not reused
            exchange.fail(UpstreamError(499, "the client went away"))
            return exchange.status

    async def _relay_body(self, exchange: Exchange, send: Any, loop: asyncio.AbstractEventLoop) -> int:
        while True:
            if exchange.done or exchange.chunks:
                body = exchange.take()
                if exchange.done and exchange.error is None:
                    await send({"type": "http.response.body", "body": body, "more_body": False})
                    return exchange.status
                if body:
                    await send({"type": "http.response.body", "body": body, "more_body": True})
                continue
            if exchange.error is not None:
                # Headers are gone already. Returning without ending the body makes the server close the
                # connection, so the client sees a short read; ending it would make a cut body look complete.
                return exchange.status
            timer = loop.call_later(self.read_timeout, exchange.fail, UpstreamError(504, "upstream read timeout"))
            try:
                await exchange.wait()
            finally:
                timer.cancel()


async def _request_body(receive: Any) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise UpstreamError(400, "the client went away while sending the request body")
        chunk = message.get("body", b"")
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return
