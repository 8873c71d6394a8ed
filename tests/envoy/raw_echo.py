"""An HTTP/1.1 upstream that answers every request with its request target exactly as received (hex-encoded, so
any byte survives the trip back). Real sockets, in a thread."""

from __future__ import annotations

import socket
import threading


class RawEcho:
    def __init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True, name="raw-echo").start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._sock.close()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    @staticmethod
    def _answer(conn: socket.socket) -> None:
        pending = b""
        with conn:
            while True:
                while b"\r\n\r\n" not in pending:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    pending += chunk
                head, pending = pending.split(b"\r\n\r\n", 1)
                request_line = head.split(b"\r\n", 1)[0]
                target = request_line.split(b" ", 1)[1].rsplit(b" ", 1)[0]  # a raw space may be inside
                body = target.hex().encode()
                conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
