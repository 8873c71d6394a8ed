"""An upstream that answers every request with the request exactly as it arrived: request line and headers.

httpbin parses what it echoes (`args` is decoded, repeated headers are joined, order is lost), so two gateways
that send different bytes can look the same through it. This echo shows the raw query string and every header
line in order. It is a real HTTP/1.1 server on a 127.0.0.1 socket (asyncio streams in a thread), with
keep-alive, so a gateway reaches it exactly as it reaches httpbin: as the Service `httpbin` in the targets'
`backends` option.
"""

from __future__ import annotations

import asyncio
import json
import threading

#: The response header that tells the echo's answers apart from a gateway's own responses.
ECHO_HEADER = "x-differential-echo"
MAX_HEAD = 256 * 1024


class EchoServer:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopped: asyncio.Event | None = None
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        if not self.port:
            raise RuntimeError("the echo upstream is not started")
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> str:
        self._thread = threading.Thread(target=self._run, name="differential-echo", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout) or self._error is not None:
            raise RuntimeError(f"the echo upstream did not start: {self._error}")
        return self.url

    def stop(self) -> None:
        if self._loop is not None and self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
        if self._thread is not None:
            self._thread.join(10)
        self._thread = None
        self._loop = None
        self.port = 0

    def __enter__(self) -> EchoServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as error:  # reported to start() when it happens before the socket is ready
            self._error = error
            self._ready.set()
        finally:
            loop.close()

    async def _serve(self) -> None:
        self._stopped = asyncio.Event()
        server = await asyncio.start_server(self._connection, self.host, 0, limit=MAX_HEAD)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        async with server:
            await self._stopped.wait()
            server.close()
            # Kept-alive connections from the gateways: end their handlers before the loop goes.
            handlers = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in handlers:
                task.cancel()
            await asyncio.gather(*handlers, return_exceptions=True)
            await server.wait_closed()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head[:-4].split(b"\r\n")
                headers = [tuple(part.strip() for part in line.split(b":", 1)) for line in lines[1:] if b":" in line]
                body = await _body(reader, headers)
                document = {
                    "requestLine": lines[0].decode("latin-1"),
                    "headers": [[name.decode("latin-1"), value.decode("latin-1")] for name, value in headers],
                    "bodyLength": len(body),
                }
                payload = json.dumps(document).encode("utf-8")
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    + ECHO_HEADER.encode()
                    + b": 1\r\ncontent-length: %d\r\n\r\n" % len(payload)
                    + payload
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError):
            pass  # the client closed the connection, or sent something that is not HTTP: close it
        finally:
            writer.close()


async def _body(reader: asyncio.StreamReader, headers: list[tuple[bytes, ...]]) -> bytes:
    """Read the request body (Content-Length or chunked) so the next request on the connection starts clean."""
    names = {name.lower(): value for name, value in headers}
    if names.get(b"transfer-encoding", b"").lower() == b"chunked":
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":  # trailer fields, up to the empty line
                    pass
                return body
            body += (await reader.readexactly(size + 2))[:-2]
    length = int(names.get(b"content-length", b"0") or 0)
    return await reader.readexactly(length) if length else b""
