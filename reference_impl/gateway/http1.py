"""A small HTTP/1.1 server for ASGI apps, built for a gateway's edge: strict parsing, Envoy's limits, no stalls.

Why not uvicorn: an edge proxy must bound what a client can make it hold (request head size and header count, a
head that never finishes, an idle connection) and answer hostile framing the way Envoy does; uvicorn has no header
limits or head timeout, and its per-request overhead was the largest cost of the gateway (see benchmarks/).

What it does, per connection: llhttp (httptools) parses requests; each request is one ASGI `http` scope; requests
on a keep-alive connection, pipelined or not, are answered in order; a request body is streamed to the app with
flow control; a response is framed by its Content-Length or chunked. The request head is limited to
`max_request_headers_kb` and `max_headers_count` (431), must arrive within `request_headers_timeout` (408), and a
connection idle for `idle_timeout` is closed. Deadlines are checked by one sweep per server, not a timer per request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_to_bytes

import httptools

log = logging.getLogger("reference_impl.http1")

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[dict[str, Any], Receive, Send], Awaitable[None]]

REASONS = {
    100: b"Continue", 200: b"OK", 201: b"Created", 202: b"Accepted", 204: b"No Content", 206: b"Partial Content",
    301: b"Moved Permanently", 302: b"Found", 303: b"See Other", 304: b"Not Modified", 307: b"Temporary Redirect",
    308: b"Permanent Redirect", 400: b"Bad Request", 401: b"Unauthorized", 403: b"Forbidden", 404: b"Not Found",
    405: b"Method Not Allowed", 408: b"Request Timeout", 413: b"Payload Too Large", 426: b"Upgrade Required",
    429: b"Too Many Requests", 431: b"Request Header Fields Too Large", 500: b"Internal Server Error",
    501: b"Not Implemented", 502: b"Bad Gateway", 503: b"Service Unavailable", 504: b"Gateway Timeout",
}  # fmt: skip
BODYLESS_STATUS = frozenset({204, 304})
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
# Pause reading a request body once this much is buffered for the app; resume when it drops below half.
BODY_HIGH_WATER = 256 * 1024


@dataclass(frozen=True)
class Limits:
    """Downstream limits. Sizes and the idle timeout are Envoy's defaults, which kgateway keeps; Envoy has no
    request-headers timeout unless configured, and 10 s is what its edge-proxy guidance sets."""

    max_request_headers_kb: int = 60
    max_headers_count: int = 100
    request_headers_timeout: float = 10.0
    idle_timeout: float = 3600.0
    max_pipelined_requests: int = 32

    @property
    def max_head_bytes(self) -> int:
        return self.max_request_headers_kb * 1024


def _http_date() -> bytes:
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime()).encode("ascii")


class ClientDisconnected(OSError):
    """`send` on a connection the client has closed (ASGI: an OSError subclass)."""


class _Reject(Exception):
    """Raised from a parser callback to stop parsing and answer with a local error."""

    def __init__(self, status: int, body: bytes = b"") -> None:
        super().__init__(status)
        self.status = status
        self.body = body


class ServerState:
    """What one server's connections share: the set of open connections and the clock the sweep keeps."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.connections: set[HTTP1Connection] = set()
        self.now = time.monotonic()
        self._sweeper: asyncio.Task[None] | None = None

    def start(self, interval: float = 0.25) -> None:
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep(interval))

    async def _sweep(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            self.now = now = time.monotonic()
            for connection in [c for c in self.connections if c.deadline is not None and c.deadline <= now]:
                connection.deadline_passed()

    def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None


class HTTP1Connection(asyncio.Protocol):
    """One client connection."""

    def __init__(self, app: ASGIApp, state: ServerState) -> None:
        self.app = app
        self.state = state
        self.limits = state.limits
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.client: tuple[str, int] | None = None
        self.server: tuple[str, int] | None = None
        self.deadline: float | None = None
        # the request being parsed
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._head_bytes = 0  # request line and header fields of the head being parsed
        self._unparsed = 0  # raw bytes received since the last complete head
        self._parsing: Cycle | None = None
        # the request being answered, and the ones waiting behind it
        self.cycle: Cycle | None = None
        self.pipeline: deque[Cycle] = deque()
        self._write_paused = False
        self._drained: asyncio.Event | None = None
        self._reading_paused = False
        self.closing = False

    # -- connection life -----------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        local = transport.get_extra_info("sockname")
        self.client = (peer[0], peer[1]) if isinstance(peer, tuple) else None
        self.server = (local[0], local[1]) if isinstance(local, tuple) else None
        self.state.connections.add(self)
        self.deadline = self.state.now + self.limits.request_headers_timeout

    def connection_lost(self, exc: Exception | None) -> None:
        self.state.connections.discard(self)
        self.closing = True
        for cycle in (self.cycle, self._parsing, *self.pipeline):
            if cycle is not None:
                cycle.disconnected = True
                cycle.wake()
        if self._drained is not None:
            self._drained.set()

    def pause_writing(self) -> None:
        self._write_paused = True
        if self._drained is None:
            self._drained = asyncio.Event()
        self._drained.clear()

    def resume_writing(self) -> None:
        self._write_paused = False
        if self._drained is not None:
            self._drained.set()

    async def drain(self) -> None:
        if self._write_paused and not self.closing and self._drained is not None:
            await self._drained.wait()

    def deadline_passed(self) -> None:
        """The head did not arrive in time (408), or the connection sat idle too long (closed quietly)."""
        self.deadline = None
        if self._parsing is None and self._unparsed and self.cycle is None:
            self.error_response(408, b"request headers timeout")
        else:
            self.close()

    def close(self) -> None:
        if not self.closing and self.transport is not None:
            self.closing = True
            self.transport.close()

    def pause_reading(self) -> None:
        if not self._reading_paused and self.transport is not None and not self.closing:
            self._reading_paused = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self._reading_paused and self.transport is not None and not self.closing:
            self._reading_paused = False
            self.transport.resume_reading()

    # -- parsing -------------------------------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        if self._parsing is None:
            # A head that never ends must not make the parser buffer it whole: count it before parsing.
            self._unparsed += len(data)
            if self._unparsed > 2 * self.limits.max_head_bytes + BODY_HIGH_WATER:
                self.error_response(431, REASONS[431])
                return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as error:
            reject = error.__context__
            if isinstance(reject, _Reject):
                self.error_response(reject.status, reject.body)
            else:
                log.error("internal error handling a request: %s", type(reject).__name__)
                self.error_response(500, b"internal error")
        except httptools.HttpParserUpgrade:
            pass  # refused in on_headers_complete already
        except httptools.HttpParserError:
            self.error_response(400, REASONS[400])

    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = []
        self._head_bytes = 0
        if self.cycle is None:
            self.deadline = self.state.now + self.limits.request_headers_timeout

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._count(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.lower(), value))
        self._count(len(name) + len(value))
        if len(self._headers) > self.limits.max_headers_count:
            raise _Reject(431, REASONS[431])

    def _count(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > self.limits.max_head_bytes:
            raise _Reject(431, REASONS[431])

    def on_headers_complete(self) -> None:
        parser = self.parser
        version = parser.get_http_version()
        if version != "1.1":  # Envoy answers HTTP/1.0 and 0.9 with 426 unless configured otherwise
            raise _Reject(426, REASONS[426])
        method = parser.get_method().decode("ascii")
        if method == "CONNECT":
            raise _Reject(404)  # no CONNECT routes, as on a kgateway listener
        if parser.should_upgrade():
            raise _Reject(403)  # protocol upgrades are not configured: Envoy answers 403
        url = self._url
        headers = self._headers
        if url.startswith(b"/"):
            path, _, query = url.partition(b"?")
        else:
            path, query, headers = self._absolute_form(url, headers)
        if b"#" in path or b"#" in query:
            raise _Reject(400)
        expect_continue = False
        for name, value in headers:
            if name == b"transfer-encoding" and value.strip().lower() != b"chunked":
                raise _Reject(501, REASONS[501])
            if name == b"expect" and value.lower() == b"100-continue":
                expect_continue = True
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": unquote_to_bytes(path).decode("utf-8", "replace"),
            "raw_path": path,
            "query_string": query,
            "root_path": "",
            "headers": headers,
            "client": self.client,
            "server": self.server,
        }
        cycle = Cycle(self, scope, parser.should_keep_alive(), expect_continue)
        self._parsing = cycle
        self._unparsed = 0
        self.deadline = None
        if self.cycle is None:
            self.cycle = cycle
            self.loop.create_task(cycle.run())
        else:
            self.pipeline.append(cycle)
            if len(self.pipeline) >= self.limits.max_pipelined_requests:
                self.pause_reading()

    def _absolute_form(
        self, url: bytes, headers: list[tuple[bytes, bytes]]
    ) -> tuple[bytes, bytes, list[tuple[bytes, bytes]]]:
        """`GET http://host/path`: the target's authority replaces Host (RFC 9112 section 3.2.2), as Envoy does."""
        if url == b"*":
            return url, b"", headers
        try:
            parsed = httptools.parse_url(url)
        except httptools.HttpParserInvalidURLError:
            raise _Reject(400) from None
        if parsed.schema != b"http":  # https on a plaintext listener: Envoy refuses it
            raise _Reject(403, REASONS[403]) if parsed.schema == b"https" else _Reject(400)
        if not parsed.host:
            raise _Reject(400)
        authority = parsed.host + (b":%d" % parsed.port if parsed.port else b"")
        rest = [(k, v) for k, v in headers if k != b"host"]
        return parsed.path or b"/", parsed.query or b"", [(b"host", authority), *rest]

    def on_body(self, body: bytes) -> None:
        cycle = self._parsing
        if cycle is not None:
            cycle.feed(body)

    def on_message_complete(self) -> None:
        cycle = self._parsing
        self._parsing = None
        if cycle is not None:
            cycle.complete = True
            cycle.wake()

    # -- responses -----------------------------------------------------------------------------------------
    def error_response(self, status: int, body: bytes = b"") -> None:
        """A local answer to a request that never reached the app, then close: the stream cannot be trusted."""
        if self.transport is None or self.closing:
            return
        if self.cycle is None or not self.cycle.started:
            head = [b"HTTP/1.1 %d %s\r\n" % (status, REASONS.get(status, b"Error"))]
            if body:
                head.append(b"content-type: text/plain\r\n")
            head.append(b"content-length: %d\r\ndate: %s\r\nconnection: close\r\n\r\n" % (len(body), _http_date()))
            self.transport.write(b"".join(head) + body)
        self.close()

    def cycle_done(self, cycle: Cycle) -> None:
        """A response is complete: close, or go on with the next request."""
        if cycle.close_after or not cycle.keep_alive or not cycle.complete:
            self.close()
            return
        if self.pipeline:
            self.cycle = self.pipeline.popleft()
            self.resume_reading()
            self.loop.create_task(self.cycle.run())
            return
        self.cycle = None
        self.deadline = self.state.now + self.limits.idle_timeout
        self.resume_reading()


class Cycle:
    """One request and its response: the ASGI `receive` and `send` of one scope."""

    __slots__ = (
        "body",
        "body_size",
        "chunked",
        "close_after",
        "complete",
        "conn",
        "continue_sent",
        "disconnected",
        "expect_continue",
        "finished",
        "keep_alive",
        "pending_head",
        "scope",
        "started",
        "waiter",
    )

    def __init__(self, conn: HTTP1Connection, scope: dict[str, Any], keep_alive: bool, expect_continue: bool) -> None:
        self.conn = conn
        self.scope = scope
        self.keep_alive = keep_alive
        self.expect_continue = expect_continue
        self.continue_sent = False
        self.body: deque[bytes] = deque()
        self.body_size = 0
        self.complete = False  # the whole request body has arrived
        self.disconnected = False
        self.waiter: asyncio.Future[None] | None = None
        self.started = False
        self.finished = False
        self.chunked = False
        self.close_after = False
        self.pending_head = b""

    def feed(self, chunk: bytes) -> None:
        self.body.append(chunk)
        self.body_size += len(chunk)
        if self.body_size > BODY_HIGH_WATER:
            self.conn.pause_reading()
        self.wake()

    def wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def run(self) -> None:
        try:
            await self.conn.app(self.scope, self.receive, self.send)
        except ClientDisconnected:
            pass
        except Exception as error:  # the app must answer; if it fails, the client gets a 500, never a hang
            log.error("internal error in the gateway app: %s", type(error).__name__, exc_info=error)
            if not self.started:
                await self.send({"type": "http.response.start", "status": 500, "headers": []})
                await self.send({"type": "http.response.body", "body": b"internal error"})
        if not self.finished:
            # A response that stops half-way (the upstream went away) must look cut short, never complete.
            self.conn.close()
            return
        self.conn.cycle_done(self)

    # -- ASGI receive --------------------------------------------------------------------------------------
    async def receive(self) -> dict[str, Any]:
        if self.expect_continue and not self.continue_sent and not self.body and not self.complete:
            self.continue_sent = True  # the app wants the body: only now is the client invited to send it
            if self.conn.transport is not None and not self.conn.closing:
                self.conn.transport.write(CONTINUE)
        while not self.body and not self.complete and not self.disconnected:
            self.waiter = self.conn.loop.create_future()
            await self.waiter
            self.waiter = None
        if self.disconnected and not self.body:
            return {"type": "http.disconnect"}
        chunk = b"".join(self.body) if len(self.body) > 1 else (self.body[0] if self.body else b"")
        self.body.clear()
        if self.body_size > BODY_HIGH_WATER // 2:
            self.conn.resume_reading()
        self.body_size = 0
        return {"type": "http.request", "body": chunk, "more_body": not self.complete}

    # -- ASGI send -----------------------------------------------------------------------------------------
    async def send(self, message: dict[str, Any]) -> None:
        conn = self.conn
        if message["type"] == "http.response.start":
            self._start(message["status"], message.get("headers", ()))
            return
        if message["type"] != "http.response.body" or self.finished:
            return
        body: bytes = message.get("body", b"")
        more = message.get("more_body", False)
        out = self.pending_head
        self.pending_head = b""
        if self.chunked:
            if body:
                out += b"%x\r\n%s\r\n" % (len(body), body)
            if not more:
                out += b"0\r\n\r\n"
        else:
            out += body
        if not more:
            self.finished = True
        if self.disconnected or conn.transport is None or conn.closing:
            if more:
                raise ClientDisconnected("the client closed the connection")
            return
        if out:
            conn.transport.write(out)
        if more:
            await conn.drain()

    def _start(self, status: int, headers: Any) -> None:
        if self.started:
            return
        self.started = True
        method = self.scope["method"]
        has_length = False
        lines = [b"HTTP/1.1 %d %s\r\n" % (status, REASONS.get(status, b"Unknown"))]
        for name, value in headers:
            if name == b"content-length":
                has_length = True
            lines.append(b"%s: %s\r\n" % (name, value))
        if not has_length and status not in BODYLESS_STATUS and method != "HEAD" and status >= 200:
            self.chunked = True
            lines.append(b"transfer-encoding: chunked\r\n")
        # A request whose body the app did not read cannot be followed by another on this connection.
        if not self.complete or not self.keep_alive:
            self.close_after = True
            lines.append(b"connection: close\r\n")
        lines.append(b"\r\n")
        self.pending_head = b"".join(lines)  # written with the first body bytes: one write for small replies


class Listening:
    """A serving socket and its connections."""

    def __init__(self, server: asyncio.AbstractServer, state: ServerState) -> None:
        self.server = server
        self.state = state

    async def close(self, grace: float = 1.0) -> None:
        """Stop accepting, close idle connections now and busy ones after `grace` seconds."""
        self.server.close()
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            for connection in list(self.state.connections):
                if connection.cycle is None:
                    connection.close()
            if not self.state.connections:
                break
            await asyncio.sleep(0.02)
        for connection in list(self.state.connections):
            connection.close()
        self.state.stop()


async def serve(app: ASGIApp, sock: Any, limits: Limits | None = None) -> Listening:
    """Serve `app` on a bound, listening socket."""
    state = ServerState(limits or Limits())
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: HTTP1Connection(app, state), sock=sock, backlog=2048)
    state.start()
    return Listening(server, state)
