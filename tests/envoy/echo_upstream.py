"""An HTTP/1.1 upstream that answers every request with its own head as the body: the request line and headers
exactly as received, any byte included. It reads each request's body by the request's own framing and records
every request, so a body sent without framing shows up as a request of its own. A request whose path contains
`/hang` is recorded and never answered; when the gateway closes that connection, the path goes to `closed`.
Real sockets, in a thread."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Request:
    head: bytes
    body: bytes

    @property
    def target(self) -> bytes:
        return self.head.split(b" ", 2)[1]

    @property
    def fields(self) -> list[tuple[bytes, bytes]]:
        lines = self.head.split(b"\r\n")[1:]
        return [(k.strip().lower(), v.strip()) for k, _, v in (line.partition(b":") for line in lines if line)]


class EchoUpstream:
    """Answers every request with its own head as the body (request line and headers as received)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self.received: list[Request] = []
        self.closed: list[tuple[bytes, float]] = []  # hung requests whose connection the gateway closed, and when
        ready = threading.Event()

        async def body(reader: asyncio.StreamReader, fields: list[tuple[bytes, bytes]]) -> bytes:
            if any(k == b"transfer-encoding" for k, _ in fields):
                data = b""
                while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
                    data += (await reader.readexactly(size + 2))[:-2]
                while await reader.readuntil(b"\r\n") != b"\r\n":  # the trailer section
                    pass
                return data
            length = next((int(v) for k, v in fields if k == b"content-length"), 0)
            return await reader.readexactly(length) if length else b""

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while True:
                    head = await reader.readuntil(b"\r\n\r\n")
                    request = Request(head, b"")
                    request = Request(head, await body(reader, request.fields))
                    self.received.append(request)
                    if b"/hang" in request.target:
                        await reader.read()
                        self.closed.append((request.target, time.monotonic()))
                        return
                    writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(head), head))
                    await writer.drain()
            except (OSError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                pass
            finally:
                writer.close()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            server = self.loop.run_until_complete(asyncio.start_server(handle, "127.0.0.1", 0, limit=1 << 20))
            self.port = server.sockets[0].getsockname()[1]
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        ready.wait(10)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
