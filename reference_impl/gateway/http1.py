"""A small HTTP/1.1 server for ASGI apps, built for a gateway's edge: strict parsing, Envoy's limits, no stalls.

Why not uvicorn: an edge proxy must bound what a client can make it hold (request head size and header count, a
head that never finishes, a body that stops, output the client never reads) and answer hostile framing the way Envoy
does; uvicorn has no header limits or head timeout, and its per-request overhead was the largest cost of the gateway
(see benchmarks/).

What it does, per connection: llhttp (httptools) parses requests; each request is one ASGI `http` scope. Requests
are answered one at a time and in order: bytes that arrive while a response is in progress are held, unparsed, and
parsed once it is done (as Envoy's codec does), so a bad pipelined request never overtakes the answer before it.
The server cuts the byte stream at message boundaries itself (the head's blank line, a Content-Length body's end, a
chunked body's last blank line) and feeds llhttp one message at a time, which makes the head's size its raw size,
whitespace included. A request body is streamed to the app with flow control; trailers are read and dropped, never
merged into the headers. A response is framed by its Content-Length or chunked.

Limits: the raw request head is limited to `max_request_headers_kb`, and to `max_headers_count` fields (431); a
head must arrive within `request_headers_timeout` (408), pipelined or not; a request with no bytes either way for
`stream_idle_timeout` gets 408 (or is cut once its response has started); a connection idle for `idle_timeout` is
closed; at most `max_buffered_input` bytes are held for later requests, and the next request waits until the
client has read enough of the previous response (backpressure). A client that goes away cancels its request, and
with it the upstream exchange. Deadlines are checked by one sweep per server, not a timer per request.
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
BLANK_LINE = b"\r\n\r\n"  # ends a request head, and a chunked body's trailer section
CHUNKED = -1  # the framing of a chunked body (others are the Content-Length bytes still to come)
OWS = b" \t"


@dataclass(frozen=True)
class Limits:
    """Downstream limits. Sizes, the stream idle timeout (5 minutes), the idle timeout (1 hour) and the connection
    buffer limit (1 MiB) are Envoy's defaults, which kgateway keeps; Envoy has no request-headers timeout unless
    configured, and 10 s is what its edge-proxy guidance sets (a listed divergence)."""

    max_request_headers_kb: int = 60
    max_headers_count: int = 100
    request_headers_timeout: float = 10.0
    stream_idle_timeout: float = 300.0
    idle_timeout: float = 3600.0
    max_buffered_input: int = 1024 * 1024

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
                connection.deadline_passed(now)

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
        self.deadline: float | None = None  # the earliest of the timers below that applies now
        # where the byte stream is: in a head (framing None), or in a body (bytes to come, or CHUNKED)
        self._framing: int | None = None
        self._head_size = 0  # raw bytes of the head being read, leading blank lines and whitespace included
        self._tail = b""  # the last bytes fed, to find a blank line split across reads
        self._head_deadline: float | None = None  # a request head has begun and must be complete by then
        self._head_timed_out = False
        self._held = bytearray()  # bytes of later requests, read while a response is in progress
        # the request being parsed
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._trailer_size = 0
        self._parsing: Cycle | None = None
        # the request being answered
        self.cycle: Cycle | None = None
        self.activity = state.now  # last bytes received from or sent to the client
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
        self._head_deadline = self.state.now + self.limits.request_headers_timeout
        self.deadline = self._head_deadline

    def connection_lost(self, exc: Exception | None) -> None:
        self.state.connections.discard(self)
        self.closing = True
        self.deadline = None
        cycle = self.cycle
        if cycle is not None:
            cycle.disconnected = True
            cycle.wake()
            if not cycle.finished and cycle.task is not None:
                cycle.task.cancel()  # the client is gone: so is its request, and the upstream exchange with it
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

    @property
    def buffered(self) -> int:
        """Bytes this connection holds for its client: later requests' input, and output not yet sent."""
        output = self.transport.get_write_buffer_size() if self.transport is not None and not self.closing else 0
        return len(self._held) + output

    def _update_deadline(self) -> None:
        """The next deadline: a head being read, the request in progress going idle, or the connection idling."""
        limits = self.limits
        if self.cycle is not None:
            stream = self.activity + limits.stream_idle_timeout
            head = self._head_deadline
            self.deadline = stream if head is None or head > stream else head
        elif self._head_deadline is not None:
            self.deadline = self._head_deadline
        else:
            self.deadline = self.state.now + limits.idle_timeout

    def deadline_passed(self, now: float) -> None:
        """A head did not arrive in time (408), a request went idle (408, or cut once answered), or the
        connection sat idle too long (closed quietly)."""
        cycle = self.cycle
        if self._head_deadline is not None and self._head_deadline <= now:
            self._head_deadline = None
            if cycle is None:
                self.error_response(408, b"request headers timeout")
                return
            # The response before it is still going: answer in order, then refuse the late head.
            self._head_timed_out = True
            self.pause_reading()
        if cycle is not None:
            if self.activity + self.limits.stream_idle_timeout <= now:
                self.deadline = None
                if cycle.task is not None and not cycle.finished:
                    cycle.task.cancel()
                if not cycle.started:
                    self.error_response(408, b"stream timeout")
                else:
                    self.close()  # a response cut short must look cut short
                return
            self._update_deadline()
            return
        if self._head_deadline is None:
            self.close()  # idle

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

    # -- reading -------------------------------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        self.activity = self.state.now
        if self.cycle is not None and self._framing is None:
            self._hold(data)
            return
        self._read(data)

    def _hold(self, data: bytes) -> None:
        """Keep bytes of a later request until the response in progress is done; bounded, and its head timed."""
        held = self._held
        held += data
        if len(held) > self.limits.max_buffered_input:
            self.pause_reading()
        if BLANK_LINE in held.lstrip(b"\r\n"):
            self._head_deadline = None  # the next head is all here; it is parsed in its turn
        elif self._head_deadline is None:
            self._head_deadline = self.state.now + self.limits.request_headers_timeout
            self._update_deadline()

    def _read(self, data: bytes) -> None:
        """Feed llhttp one message part at a time: a head up to its blank line, then exactly the body."""
        while data and not self.closing:
            framing = self._framing
            if framing is None:
                if self.cycle is not None:  # the request before this one is still being answered
                    self._hold(data)
                    return
                if self._head_deadline is None:
                    self._head_deadline = self.state.now + self.limits.request_headers_timeout
                    self._update_deadline()
                end = self._end_of(data)
                piece = data if end < 0 or end == len(data) else data[:end]
                self._head_size += len(piece)
                if self._head_size > self.limits.max_head_bytes:
                    self.error_response(431, REASONS[431])
                    return
            elif framing == CHUNKED:
                end = self._end_of(data)  # a chunked body ends with a blank line; its data may hold some too
                piece = data if end < 0 or end == len(data) else data[:end]
            else:
                piece = data if framing >= len(data) else data[:framing]
                self._framing = framing - len(piece)
            data = data[len(piece) :]
            if not self._feed(piece):
                return

    def _end_of(self, data: bytes) -> int:
        """Where the first blank line ends in `data` (one may straddle the previous read), or -1; remembers the
        last bytes for the next call."""
        tail = self._tail
        found = (tail + data).find(BLANK_LINE) if tail else data.find(BLANK_LINE)
        if found < 0:
            self._tail = (tail + data)[-3:]
            return -1
        self._tail = b""
        return found + 4 - len(tail)

    def _feed(self, piece: bytes) -> bool:
        """One piece to llhttp; False once the connection is being closed (the piece was refused)."""
        try:
            self.parser.feed_data(piece)
        except httptools.HttpParserCallbackError as error:
            reject = error.__context__
            if isinstance(reject, _Reject):
                self.error_response(reject.status, reject.body)
            else:
                log.error("internal error handling a request: %s", type(reject).__name__)
                self.error_response(500, b"internal error")
            return False
        except httptools.HttpParserUpgrade:
            return False  # refused in on_headers_complete already
        except httptools.HttpParserError:
            self.error_response(400, REASONS[400])
            return False
        return not self.closing

    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = []
        self._trailer_size = 0

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        # llhttp drops whitespace before a field value but keeps it after; a field value has neither (RFC 9110
        # section 5.5), and Envoy removes both.
        if value[-1:] in (b" ", b"\t"):
            value = value.rstrip(OWS)
        if self._parsing is not None:
            # A trailer field. It never becomes a request header: Envoy drops request trailers unless told to
            # keep them, and so does this server, after counting them against the same limits.
            self._trailer_size += len(name) + len(value) + 4
            if self._trailer_size > self.limits.max_head_bytes:
                raise _Reject(431, REASONS[431])
            return
        self._headers.append((name.lower(), value))
        if len(self._headers) > self.limits.max_headers_count:
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
        framing = 0
        for name, value in headers:
            if name == b"transfer-encoding":
                if value.strip().lower() != b"chunked":
                    raise _Reject(501, REASONS[501])
                framing = CHUNKED
            elif name == b"content-length":
                if not value.isdigit():  # llhttp checked it already; framing must never rest on a guess
                    raise _Reject(400)
                framing = int(value)
            elif name == b"expect" and value.lower() == b"100-continue":
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
        self._framing = framing or None
        self._head_size = 0
        self._head_deadline = None
        self.cycle = cycle
        self._update_deadline()
        cycle.task = self.loop.create_task(cycle.run())

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
        self._framing = None
        self._tail = b""
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
        """A response is complete and the client has read enough of it: close, or go on with the next request."""
        self.cycle = None
        if cycle.close_after or not cycle.keep_alive or not cycle.complete or self.closing:
            self.close()
            return
        if self._head_timed_out:
            self.error_response(408, b"request headers timeout")
            return
        self.resume_reading()
        held = self._held
        if held:
            self._held = bytearray()
            self._read(bytes(held))
        if not self.closing and self.cycle is None:
            self._update_deadline()


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
        "task",
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
        self.task: asyncio.Task[None] | None = None

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
        conn = self.conn
        try:
            await conn.app(self.scope, self.receive, self.send)
        except (ClientDisconnected, asyncio.CancelledError):
            pass  # the client went away, or the request timed out: the connection is closing already
        except Exception as error:  # the app must answer; if it fails, the client gets a 500, never a hang
            log.error("internal error in the gateway app: %s", type(error).__name__, exc_info=error)
            if not self.started:
                await self.send({"type": "http.response.start", "status": 500, "headers": []})
                await self.send({"type": "http.response.body", "body": b"internal error"})
        if not self.finished:
            # A response that stops half-way (the upstream went away) must look cut short, never complete.
            conn.close()
            return
        # The next request waits until the client has read enough of this response: output stays bounded.
        await conn.drain()
        conn.cycle_done(self)

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
            conn.activity = conn.state.now
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
