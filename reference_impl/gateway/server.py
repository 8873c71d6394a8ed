"""Serving the gateway: one HTTP/1.1 server per listener port (plus admin), in the caller's loop or a thread."""

from __future__ import annotations

import asyncio
import errno
import socket
import threading
from collections.abc import Mapping
from typing import Any

from reference_impl.gateway import http1
from reference_impl.gateway.admin import Admin, HealthSource
from reference_impl.gateway.app import Gateway
from reference_impl.gateway.http1 import Limits
from reference_impl.gateway.observe import AccessLog, Counters
from reference_impl.gateway.proxy import Proxy
from reference_impl.store import Store

try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop is a dependency on every supported platform
    uvloop = None  # type: ignore[assignment]


class PortInUse(OSError):
    """A local port is taken; the message says which and how to pick another."""


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket; port 0 picks a free one."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise PortInUse(
                f"{host}:{port} is already in use: stop what listens there, or choose another local port "
                f"with --listen LOCAL_PORT:LISTENER_PORT (or --admin-port)"
            ) from None
        raise
    sock.listen(2048)
    sock.setblocking(False)
    return sock


class GatewayServer:
    """The reference gateway serving a Store: listener ports map to local sockets, plus an admin socket."""

    def __init__(
        self,
        store: Store,
        *,
        host: str = "127.0.0.1",
        proxy: Proxy | None = None,
        deciders: Mapping[type, Any] | None = None,
        health: list[HealthSource] | None = None,
        limits: Limits | None = None,
        access_log: AccessLog | None = None,
    ) -> None:
        self.store = store
        self.host = host
        self.limits = limits or Limits()
        self.counters = Counters()
        self.gateway = Gateway(store, proxy or Proxy(), self.counters, deciders, access_log)
        self.admin = Admin(store, self.counters, health)
        self.ports: dict[int, int] = {}  # listener port -> local port
        self.admin_port: int | None = None
        self._servers: list[http1.Listening] = []
        self._stopped: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    # -- in the caller's event loop (the CLI) -------------------------------------------------------------
    async def start(self, listeners: Mapping[int, int], admin_port: int | None = None) -> None:
        """Serve each listener port on its local port (0 = ephemeral) and the admin app if asked."""
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        for listener_port, local_port in listeners.items():
            await self.add_listener(listener_port, local_port)
        if admin_port is not None:
            sock = bind(self.host, admin_port)
            self.admin_port = sock.getsockname()[1]
            await self._serve(self.admin, sock)

    async def add_listener(self, listener_port: int, local_port: int = 0) -> int:
        if listener_port in self.ports:
            return self.ports[listener_port]
        return await self.serve_socket(listener_port, bind(self.host, local_port))

    async def serve_socket(self, listener_port: int, sock: socket.socket) -> int:
        """Serve a Gateway listener port on an already bound, listening socket (e.g. one shared by workers)."""
        self.ports[listener_port] = sock.getsockname()[1]
        await self._serve(self.gateway.listener(listener_port), sock)
        return self.ports[listener_port]

    async def _serve(self, app: Any, sock: socket.socket) -> None:
        self._servers.append(await http1.serve(app, sock, self.limits))

    async def wait(self) -> None:
        assert self._stopped is not None, "start() first"
        await self._stopped.wait()

    async def stop(self) -> None:
        servers, self._servers = self._servers, []
        await asyncio.gather(*(server.close() for server in servers), return_exceptions=True)
        await self.gateway.proxy.close()
        if self._stopped is not None:
            self._stopped.set()

    # -- in a background thread (embedding: the conformance target, notebooks, tests) ----------------------
    def start_in_thread(self, listeners: Mapping[int, int] | None = None, admin_port: int | None = 0) -> None:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = uvloop.new_event_loop() if uvloop else asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop = loop
            try:
                loop.run_until_complete(self.start(listeners or {}, admin_port))
            except BaseException as error:  # reported to the starting thread
                failure.append(error)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self.stop())
            loop.close()

        self._thread = threading.Thread(target=run, name="reference-gateway", daemon=True)
        self._thread.start()
        ready.wait(30)
        if failure:
            raise failure[0]

    def ensure_listener(self, listener_port: int) -> int:
        """From another thread: make sure a listener port is served; returns its local port."""
        if listener_port in self.ports:
            return self.ports[listener_port]
        assert self._loop is not None, "start_in_thread() first"
        future = asyncio.run_coroutine_threadsafe(self.add_listener(listener_port), self._loop)
        return future.result(30)

    def stop_thread(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(30)
            self._thread = None

    def connections(self) -> list[http1.HTTP1Connection]:
        """The client connections open now, on every listener."""
        return [connection for server in self._servers for connection in list(server.state.connections)]

    def url(self, listener_port: int) -> str:
        return f"http://{self.host}:{self.ensure_listener(listener_port)}"

    @property
    def admin_url(self) -> str | None:
        return f"http://{self.host}:{self.admin_port}" if self.admin_port else None
