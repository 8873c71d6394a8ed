"""Keep-alive HTTP/1.1 connections to upstreams: one pool per upstream, each with its own limits.

A pool per upstream is what keeps one slow or hung upstream from starving the others, as Envoy's per-cluster
circuit breakers do. The limits are Envoy's defaults (kgateway sets none): 1024 connections and 1024 requests
waiting for one; past that a request is refused at once with 503 rather than queued without bound.
"""

from __future__ import annotations

import asyncio
import socket
from collections import deque
from dataclasses import dataclass

import httptools


@dataclass(frozen=True)
class UpstreamLimits:
    max_connections: int = 1024
    max_pending_requests: int = 1024
    connect_timeout: float = 5.0


class UpstreamError(Exception):
    """The upstream could not be reached or did not answer properly. `status` is what the client gets."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# Pause reading an upstream response once this much is waiting for the client; resume when it is taken.
RESPONSE_HIGH_WATER = 256 * 1024


class UpstreamConnection(asyncio.Protocol):
    """One connection to an upstream, carrying one exchange at a time."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.open = False
        self.used = False  # has carried an exchange before (a reused connection may have been closed meanwhile)
        self.exchange: Exchange | None = None
        self._write_paused = False
        self._drained: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.open = True
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False
        self.pool.forget(self)
        exchange = self.exchange
        if exchange is not None:
            exchange.connection_closed()
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    async def drain(self) -> None:
        if self._write_paused and self.open:
            self._drained = asyncio.get_running_loop().create_future()
            await self._drained

    def data_received(self, data: bytes) -> None:
        exchange = self.exchange
        if exchange is None:  # bytes nobody asked for: the connection cannot be trusted any more
            self.close()
            return
        exchange.received_any = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as error:
            exchange.fail(UpstreamError(502, f"upstream protocol error: {type(error).__name__}"))
            self.close()

    # parser callbacks, forwarded to the exchange in flight
    def on_header(self, name: bytes, value: bytes) -> None:
        self.exchange.headers.append((name.lower(), value))  # type: ignore[union-attr]

    def on_headers_complete(self) -> None:
        exchange = self.exchange
        assert exchange is not None
        status = self.parser.get_status_code()
        if 100 <= status < 200:  # an interim response: the real one follows
            exchange.headers = []
            return
        exchange.status = status
        exchange.keep_alive = self.parser.should_keep_alive()
        if not exchange.expect_body:
            # A response to HEAD has no body whatever its Content-Length says; the parser cannot be told so,
            # so the exchange ends here and the connection is not reused.
            exchange.done = True
            exchange.keep_alive = False
        exchange.wake()

    def on_body(self, body: bytes) -> None:
        exchange = self.exchange
        if exchange is not None and exchange.status:
            exchange.chunks.append(body)
            exchange.buffered += len(body)
            if exchange.buffered > RESPONSE_HIGH_WATER and self.transport is not None:
                self.transport.pause_reading()
            exchange.wake()

    def on_message_complete(self) -> None:
        exchange = self.exchange
        if exchange is not None and exchange.status:
            exchange.done = True
            exchange.wake()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
        self.open = False


class Exchange:
    """One request/response on an upstream connection; the proxy waits on it."""

    __slots__ = (
        "buffered",
        "chunks",
        "connection",
        "deadline",
        "done",
        "error",
        "expect_body",
        "headers",
        "keep_alive",
        "received_any",
        "status",
        "waiter",
    )

    def __init__(self, connection: UpstreamConnection, expect_body: bool = True) -> None:
        self.connection = connection
        self.expect_body = expect_body
        self.headers: list[tuple[bytes, bytes]] = []
        self.status = 0
        self.keep_alive = False
        self.chunks: deque[bytes] = deque()
        self.buffered = 0
        self.done = False
        self.error: UpstreamError | None = None
        self.received_any = False
        self.waiter: asyncio.Future[None] | None = None
        self.deadline = 0.0  # loop time by which the whole response must have arrived (the route timeout)

    def wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def fail(self, error: UpstreamError) -> None:
        if self.error is None:
            self.error = error
        self.wake()

    def connection_closed(self) -> None:
        if self.done:
            return
        if self.status and not self._framed():
            self.done = True  # a body delimited by the connection's end is complete when it ends
        else:
            what = "closed the connection" if not self.status else "closed the connection mid-body"
            self.fail(UpstreamError(502, f"upstream protocol error: the upstream {what}"))
        self.wake()

    def _framed(self) -> bool:
        return any(k in (b"content-length", b"transfer-encoding") for k, _ in self.headers)

    async def wait(self) -> None:
        """Until something new happened (headers, body, end, error)."""
        self.waiter = asyncio.get_running_loop().create_future()
        try:
            await self.waiter
        finally:
            self.waiter = None

    def take(self) -> bytes:
        """All body bytes received so far."""
        chunks = self.chunks
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        chunks.clear()
        if self.buffered > RESPONSE_HIGH_WATER and self.connection.transport is not None:
            self.connection.transport.resume_reading()
        self.buffered = 0
        return data


class Pool:
    """Connections to one upstream (host, port), reused LIFO; at most `max_connections`, and at most
    `max_pending_requests` requests waiting for one."""

    def __init__(self, host: str, port: int, limits: UpstreamLimits) -> None:
        self.host = host
        self.port = port
        self.limits = limits
        self.idle: list[UpstreamConnection] = []
        self.count = 0  # open or opening connections
        self.waiting: deque[asyncio.Future[UpstreamConnection | None]] = deque()

    async def acquire(self) -> UpstreamConnection:
        while self.idle:
            connection = self.idle.pop()
            if connection.open:
                return connection
        if self.count < self.limits.max_connections:
            return await self._connect()
        if len(self.waiting) >= self.limits.max_pending_requests:
            raise UpstreamError(503, "upstream overflow: too many requests waiting for a connection")
        waiter: asyncio.Future[UpstreamConnection | None] = asyncio.get_running_loop().create_future()
        self.waiting.append(waiter)
        try:
            connection = await waiter
        except BaseException:
            if waiter in self.waiting:
                self.waiting.remove(waiter)
            elif waiter.done() and not waiter.cancelled() and waiter.result() is not None:
                self.release(waiter.result(), reusable=True)  # handed over just as this request gave up
            elif waiter.done() and not waiter.cancelled():
                self._pass_slot()  # a free slot was handed over just as this request gave up: pass it on
            raise
        return connection if connection is not None else await self._connect()

    async def _connect(self) -> UpstreamConnection:
        loop = asyncio.get_running_loop()
        self.count += 1
        try:
            _, connection = await asyncio.wait_for(
                loop.create_connection(lambda: UpstreamConnection(self), self.host, self.port),
                self.limits.connect_timeout,
            )
        except TimeoutError:
            self._slot_freed()
            raise UpstreamError(503, "upstream connect error: connection timeout") from None
        except OSError as error:
            self._slot_freed()
            raise UpstreamError(503, f"upstream connect error: {error.strerror or error}") from None
        except BaseException:
            self._slot_freed()
            raise
        return connection

    def release(self, connection: UpstreamConnection, reusable: bool) -> None:
        connection.exchange = None
        if not reusable or not connection.open:
            connection.close()
            return
        connection.used = True
        while self.waiting:
            waiter = self.waiting.popleft()
            if not waiter.done():
                waiter.set_result(connection)
                return
        self.idle.append(connection)

    def forget(self, connection: UpstreamConnection) -> None:
        """A connection closed: its slot may go to a waiting request."""
        if connection in self.idle:
            self.idle.remove(connection)
        self._slot_freed()

    def _slot_freed(self) -> None:
        self.count -= 1
        self._pass_slot()

    def _pass_slot(self) -> None:
        while self.waiting:
            waiter = self.waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the waiter opens a connection of its own
                return

    def close(self) -> None:
        for connection in self.idle:
            connection.close()
        self.idle.clear()


class Pools:
    """One Pool per upstream (host, port)."""

    def __init__(self, limits: UpstreamLimits | None = None) -> None:
        self.limits = limits or UpstreamLimits()
        self._pools: dict[tuple[str, int], Pool] = {}

    def get(self, host: str, port: int) -> Pool:
        pool = self._pools.get((host, port))
        if pool is None:
            pool = self._pools[(host, port)] = Pool(host, port, self.limits)
        return pool

    def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()
