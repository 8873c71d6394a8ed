"""Forwarding to upstreams over pooled keep-alive connections, streaming both ways."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

from reference_impl.auth.decision import Headers
from reference_impl.gateway import hop_by_hop
from reference_impl.gateway.pool import Exchange, Pools, UpstreamConnection, UpstreamError, UpstreamLimits

__all__ = ["BODYLESS", "Proxy", "UpstreamError", "forwarded_headers", "request_framing", "upstream_framing"]

Scope = dict[str, Any]
CHUNKED = -1
BODYLESS = 0


def request_framing(scope_headers: Headers) -> int:
    """How the server read the request body: CHUNKED, its Content-Length, or BODYLESS. Taken from the headers the
    server parsed (the scope's), never from a copy a client's Connection header or a policy may have trimmed."""
    framing = BODYLESS
    for name, value in scope_headers:
        if name == b"transfer-encoding":
            return CHUNKED
        if name == b"content-length":
            framing = int(value)
    return framing


def upstream_framing(headers: Headers, framing: int) -> tuple[Headers, bool]:
    """The headers to send with their framing replaced by what is actually sent, and whether the body goes
    chunked. As Envoy does: the length stays (in its place) when the client sent one and it is still among the
    headers to forward; a body without one goes chunked."""
    length_kept = framing >= 0 and any(k == b"content-length" for k, _ in headers)
    chunked = framing == CHUNKED or (framing > 0 and not length_kept)
    kept: Headers = []
    for name, value in headers:
        if name == b"content-length":
            if length_kept:
                kept.append((name, b"%d" % framing))
                length_kept = False  # once
        elif name != b"transfer-encoding":
            kept.append((name, value))
    if chunked:
        kept.append((b"transfer-encoding", b"chunked"))
    return kept, chunked


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
        route_timeout: float = 15.0,
        limits: UpstreamLimits | None = None,
    ) -> None:
        # Envoy's route timeout, which kgateway leaves at its default: from the end of the request to the end of
        # the response. Past it, a response not yet started is a 504; one under way is cut short.
        self.route_timeout = route_timeout
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
    ) -> int:
        """Send the request upstream and stream the response back. Returns the status sent to the client.

        `headers` are the request headers to forward, connection-specific ones removed already
        (reference_impl.gateway.hop_by_hop); `path` is the (normalised) path to forward, default the scope's raw
        path. Raises UpstreamError before the response has started; once it has, a failure cuts the response
        short instead."""
        host, port, base_path = self._origin(base_url)
        method: str = scope["method"]
        target = base_path + (path if path is not None else scope.get("raw_path") or scope["path"].encode("utf-8"))
        if query_string:
            target += b"?" + query_string
        framing = request_framing(scope["headers"])
        upstream_headers, chunked = upstream_framing(
            forwarded_headers(headers, scope.get("client"), scope.get("scheme", "http")), framing
        )
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
        pool = self.pools.get(host, port)
        has_body = framing == CHUNKED or framing > 0
        exchange = await self._exchange(pool, head, receive if has_body else None, chunked, method != "HEAD")
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
                exchange.deadline = asyncio.get_running_loop().time() + self.route_timeout
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
        timer = loop.call_at(exchange.deadline, exchange.fail, UpstreamError(504, "upstream request timeout"))
        try:
            while not exchange.status and exchange.error is None:
                await exchange.wait()
        finally:
            timer.cancel()
        if exchange.error is not None:
            raise exchange.error

    async def _relay(self, exchange: Exchange, send: Any, method: str) -> int:
        # Also drop the headers the upstream's Connection header names (RFC 9110 section 7.6.1).
        response_headers = hop_by_hop.response_headers(exchange.headers)
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
            timer = loop.call_at(exchange.deadline, exchange.fail, UpstreamError(504, "upstream request timeout"))
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
