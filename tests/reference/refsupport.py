"""Helpers shared by the reference gateway tests: manifest builders, decision shortcuts, a raw upstream, an HTTP
client that sends exactly what it is given. Fixtures live in conftest.py."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # the project may not be installed in the venv running the tests
    sys.path.insert(0, str(ROOT))

from reference_impl.auth.decision import Allow, Deny  # noqa: E402
from reference_impl.compile.routes import Rule  # noqa: E402
from reference_impl.compile.snapshot import BackendMap  # noqa: E402
from reference_impl.gateway.app import rule_decision, select  # noqa: E402
from reference_impl.resources import parse_manifest  # noqa: E402
from reference_impl.store import Store  # noqa: E402

EXAMPLES = ROOT / "examples"
GUIDE_KEY = "N2YwMDIxZTEtNGUzNS1jNzgzLTRkYjAtYjE2YzRkZGVmNjcy"
KG_401 = b"Client authentication failed."
KG_500 = b"invalid route configuration detected and replaced with a direct response."
AG_MISSING = b"api key authentication failure: no API Key found"
AG_INVALID = b"api key authentication failure: invalid credentials"
UPSTREAM = "http://127.0.0.1:9"  # never contacted by the pure tests


# ---------------------------------------------------------------------------------------------------------------
# Manifest builders (plain dicts, validated by the real loader)
# ---------------------------------------------------------------------------------------------------------------
def secret(name: str, namespace: str = "default", labels: dict | None = None, **entries: str) -> dict:
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "stringData": entries}


def config_map(name: str, namespace: str = "default", labels: dict | None = None, **entries: str) -> dict:
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": entries}


def gateway(
    name: str = "gw",
    namespace: str = "default",
    cls: str = "kgateway",
    listeners: list[dict] | None = None,
) -> dict:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "gatewayClassName": cls,
            "listeners": listeners
            or [{"name": "http", "port": 8080, "protocol": "HTTP", "allowedRoutes": {"namespaces": {"from": "All"}}}],
        },
    }


def rule(
    *,
    name: str | None = None,
    path: str | None = None,
    path_type: str = "PathPrefix",
    method: str | None = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    backend: str = "svc",
    filters: list[dict] | None = None,
) -> dict:
    match: dict[str, Any] = {}
    if path is not None:
        match["path"] = {"type": path_type, "value": path}
    if method:
        match["method"] = method
    if headers:
        match["headers"] = [{"name": k, "value": v} for k, v in headers.items()]
    if query:
        match["queryParams"] = [{"name": k, "value": v} for k, v in query.items()]
    spec: dict[str, Any] = {"backendRefs": [{"name": backend, "port": 80}]}
    if match:
        spec["matches"] = [match]
    if name:
        spec["name"] = name
    if filters:
        spec["filters"] = filters
    return spec


def route(
    name: str = "r",
    namespace: str = "default",
    parent: str = "gw",
    hostnames: list[str] | None = None,
    rules: list[dict] | None = None,
    section: str | None = None,
) -> dict:
    ref: dict[str, Any] = {"name": parent}
    if section:
        ref["sectionName"] = section
    spec: dict[str, Any] = {"parentRefs": [ref], "rules": rules or [rule()]}
    if hostnames:
        spec["hostnames"] = hostnames
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def target(kind: str, name: str, section: str | None = None) -> dict:
    ref = {"group": "gateway.networking.k8s.io", "kind": kind, "name": name}
    if section:
        ref["sectionName"] = section
    return ref


def traffic_policy(
    name: str = "tp", namespace: str = "default", targets: list[dict] | None = None, **api_key_auth: Any
) -> dict:
    spec: dict[str, Any] = {"apiKeyAuth": api_key_auth}
    if targets is not None:
        spec["targetRefs"] = targets
    return {
        "apiVersion": "gateway.kgateway.dev/v1alpha1",
        "kind": "TrafficPolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def ag_policy(
    name: str = "ap", namespace: str = "default", targets: list[dict] | None = None, **authentication: Any
) -> dict:
    spec: dict[str, Any] = {"traffic": {"apiKeyAuthentication": authentication}}
    if targets is not None:
        spec["targetRefs"] = targets
    return {
        "apiVersion": "agentgateway.dev/v1alpha1",
        "kind": "AgentgatewayPolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def reference_grant(namespace: str, from_namespace: str, to_name: str | None = None) -> dict:
    to: dict[str, Any] = {"group": "", "kind": "Secret"}
    if to_name:
        to["name"] = to_name
    return {
        "apiVersion": "gateway.networking.k8s.io/v1beta1",
        "kind": "ReferenceGrant",
        "metadata": {"name": f"allow-{from_namespace}", "namespace": namespace},
        "spec": {
            "from": [{"group": "gateway.kgateway.dev", "kind": "TrafficPolicy", "namespace": from_namespace}],
            "to": [to],
        },
    }


def make_store(*documents: dict, backends: dict[str, str] | None = None) -> Store:
    store = Store(BackendMap(backends or {"svc": UPSTREAM}))
    store.apply([parse_manifest(d) for d in documents])
    return store


def headers(*pairs: tuple[str, str]) -> list[tuple[bytes, bytes]]:
    """ASGI-style headers: lower-case byte names, byte values, order kept."""
    return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in pairs]


def header_values(hs: list[tuple[bytes, bytes]], name: str) -> list[str]:
    return [v.decode("latin-1") for k, v in hs if k == name.lower().encode("latin-1")]


def pick(
    store: Store,
    *,
    host: str = "example.com",
    path: str = "/",
    method: str = "GET",
    port: int = 8080,
    hs: list[tuple[bytes, bytes]] | None = None,
    query: bytes = b"",
) -> Rule | None:
    table = store.snapshot.table(port)
    if table is None:
        return None
    return select(table.candidates(host), path, method, hs or [], query)


def decide(
    store: Store,
    *pairs: tuple[str, str],
    query: bytes = b"",
    host: str = "example.com",
    path: str = "/",
    method: str = "GET",
    port: int = 8080,
) -> Allow | Deny:
    """What the gateway decides for one request: route selection, then the rule's effective auth."""
    hs = headers(*pairs)
    chosen = pick(store, host=host, path=path, method=method, port=port, hs=hs, query=query)
    assert chosen is not None, "no route matched"
    return rule_decision(chosen, hs, query)


# ---------------------------------------------------------------------------------------------------------------
# Servers on real sockets
# ---------------------------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


BIG_SIZE = 4 * 1024 * 1024
BIG_CHUNK = bytes(range(256)) * 256  # 64 KiB


class RawUpstream:
    """A tiny asyncio HTTP/1.1 upstream in a thread whose behaviour is chosen by the request path:

    /echo...   200 with the raw request head (request line and headers, exactly as received) as the body
    /hop       200 carrying hop-by-hop response headers that a proxy must drop
    /big       200 with BIG_SIZE bytes, chunked
    /gate      200, chunked: sends "first;" then waits until release_gate() (or 10 s) and ends with how it went on
    /sleep     waits 5 s before answering (for read timeouts)
    /garbage   answers bytes that are not HTTP
    /close     closes the connection without answering
    /cut       promises 1000 bytes, sends 7 and closes
    /chunkcut  chunked: sends one chunk and closes without the last chunk
    anything else: 200 "ok"
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self._ready = threading.Event()
        self._gate: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True, name="raw-upstream")

    def release_gate(self) -> None:
        self.loop.call_soon_threadsafe(self._gate.set)

    def reset_gate(self) -> None:
        self.loop.call_soon_threadsafe(self._gate.clear)

    async def _respond(self, path: bytes, head: bytes, writer: asyncio.StreamWriter) -> None:
        if path.startswith(b"/echo"):
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: %d\r\n\r\n" % len(head))
            writer.write(head)
        elif path.startswith(b"/hop"):
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nConnection: X-Drop-Me\r\nX-Drop-Me: 1\r\n"
                b"Keep-Alive: timeout=5\r\nProxy-Authenticate: Basic\r\nX-Keep-Me: 1\r\n\r\nok"
            )
        elif path.startswith(b"/big"):
            writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
            for _ in range(BIG_SIZE // len(BIG_CHUNK)):
                writer.write(b"%x\r\n%s\r\n" % (len(BIG_CHUNK), BIG_CHUNK))
                await writer.drain()
            writer.write(b"0\r\n\r\n")
        elif path.startswith(b"/gate"):
            writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n6\r\nfirst;\r\n")
            await writer.drain()
            try:
                await asyncio.wait_for(self._gate.wait(), 10)
                tail = b"released"
            except TimeoutError:
                tail = b"timed-out"
            writer.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(tail), tail))
        elif path.startswith(b"/sleep"):
            await asyncio.sleep(5)
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nlate!")
        elif path.startswith(b"/garbage"):
            writer.write(b"THIS IS NOT HTTP AT ALL\r\n\r\n")
        elif path.startswith(b"/close"):
            return
        elif path.startswith(b"/chunkcut"):
            writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n7\r\npartial\r\n")
        elif path.startswith(b"/cut"):
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\npartial")
        else:
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
        await writer.drain()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            await self._respond(head.split(b" ", 2)[1], head, writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self._gate = asyncio.Event()
        server = self.loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self.loop.run_forever()
        server.close()
        for task in asyncio.all_tasks(self.loop):
            task.cancel()
        self.loop.run_until_complete(asyncio.sleep(0))
        self.loop.close()

    def start(self) -> str:
        self._thread.start()
        self._ready.wait(10)
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


# ---------------------------------------------------------------------------------------------------------------
# A plain HTTP client that sends exactly what it is given (no path normalisation, explicit Host)
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def fetch(
    base: str,
    path: str = "/",
    *,
    host: str | None = "www.example.com",
    method: str = "GET",
    headers: list[tuple[str, str]] | dict[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = 10,
) -> Reply:
    parsed = urlsplit(base)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=timeout)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        if host is not None:
            conn.putheader("Host", host)
        items = headers.items() if isinstance(headers, dict) else (headers or [])
        for name, value in items:
            conn.putheader(name, value)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        return Reply(response.status, response.getheaders(), response.read())
    finally:
        conn.close()


def _response_complete(received: bytes) -> bool:
    """A whole response with a Content-Length has arrived."""
    head, sep, rest = received.partition(b"\r\n\r\n")
    if not sep:
        return False
    length = next(
        (int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")),
        None,
    )
    return length is not None and len(rest) >= length


def raw_exchange(base: str, data: bytes, timeout: float = 5) -> bytes:
    """Send raw bytes on a fresh connection and read until the server closes or a full response arrived."""
    return send_raw(base, data, timeout, complete=_response_complete)


def status_of(raw: bytes) -> int:
    return int(raw.split(b" ", 2)[1])


# ---------------------------------------------------------------------------------------------------------------
# The gateway serving both guides' examples plus extra routes, over real sockets
# ---------------------------------------------------------------------------------------------------------------
EXTRA_PORT = 8181
MULTI_KEYS = {"svc-a": "multi-key-aaaaaaaa", "svc-b": "multi-key-bbbbbbbb"}


def extra_documents() -> list[dict]:
    """A kgateway Gateway "extra" on port 8181 with an open route, a route with three key sources, and raw routes."""
    listeners = [
        {"name": "http", "port": EXTRA_PORT, "protocol": "HTTP", "allowedRoutes": {"namespaces": {"from": "All"}}}
    ]
    return [
        gateway("extra", listeners=listeners),
        secret("multi-keys", **MULTI_KEYS),
        route("open", parent="extra", hostnames=["open.test"], rules=[rule(backend="httpbin")]),
        route("multi", parent="extra", hostnames=["multi.test"], rules=[rule(backend="httpbin")]),
        route("raw", parent="extra", hostnames=["raw.test"], rules=[rule(backend="raw")]),
        route("raw-auth", parent="extra", hostnames=["raw-auth.test"], rules=[rule(backend="raw")]),
        traffic_policy(
            "multi",
            targets=[target("HTTPRoute", "multi"), target("HTTPRoute", "raw-auth")],
            secretRef={"name": "multi-keys"},
            keySources=[{"header": "x-api-key"}, {"query": "api_key"}, {"cookie": "api_key"}],
            clientIdHeader="x-client-id",
        ),
    ]


@dataclass
class Served:
    store: Store
    server: Any

    @property
    def kgateway(self) -> str:
        return self.server.url(8080)

    @property
    def agentgateway(self) -> str:
        return self.server.url(80)

    @property
    def extra(self) -> str:
        return self.server.url(EXTRA_PORT)

    @property
    def admin(self) -> str:
        return self.server.admin_url

    def admin_json(self, path: str) -> Any:
        reply = fetch(self.admin, path, host="localhost")
        assert reply.status == 200, reply.text
        return reply.json()


# ---------------------------------------------------------------------------------------------------------------
# An upstream that records every request it receives (for "nothing reaches a protected upstream" checks)
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class Received:
    method: bytes
    target: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes = b""

    def header(self, name: bytes) -> list[bytes]:
        return [v for k, v in self.headers if k == name]


class RecordingUpstream:
    """A keep-alive HTTP/1.1 upstream in a thread that answers `200 ok` and records each request it reads (head and
    body, read by the request's own framing, so a body that is not framed shows up as a request of its own). The
    response echoes the request's `x-hostile-id` header; a path ending `/big/N` answers N bytes. A request whose
    path starts with /hang is recorded and never answered (a hung upstream); when the gateway closes that
    connection, its target goes to `closed`."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self.received: list[Received] = []
        self.closed: list[bytes] = []
        self.connections = 0  # currently open
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="recording-upstream")

    async def _body(self, reader: asyncio.StreamReader, headers: list[tuple[bytes, bytes]]) -> bytes:
        length = next((int(v) for k, v in headers if k == b"content-length"), 0)
        if not any(k == b"transfer-encoding" for k, _ in headers):
            return await reader.readexactly(length) if length else b""
        body = b""
        while True:  # a chunked body, then its trailer section
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":
                    pass
                return body
            body += (await reader.readexactly(size + 2))[:-2]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head[:-4].split(b"\r\n")
                method, target, _ = lines[0].split(b" ", 2)
                headers = [(k.strip().lower(), v.strip()) for k, _, v in (line.partition(b":") for line in lines[1:])]
                received = Received(method, target, headers, await self._body(reader, headers))
                self.received.append(received)
                if target.startswith(b"/hang"):
                    await reader.read()  # until the gateway gives up on this request and closes the connection
                    self.closed.append(target)
                    return
                size = int(target.split(b"/big/")[1].split(b"?")[0]) if b"/big/" in target else 2
                echo = b"".join(b"x-hostile-id: %s\r\n" % v for v in received.header(b"x-hostile-id"))
                head = b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\ncontent-type: text/plain\r\n%s\r\n" % (size, echo)
                writer.write(head + (b"" if method == b"HEAD" else b"ok" if size == 2 else b"b" * size))
                await writer.drain()
        except (OSError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.CancelledError):
            pass
        finally:
            self.connections -= 1
            writer.close()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0, limit=1 << 20))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self.loop.run_forever()
        server.close()
        for task in asyncio.all_tasks(self.loop):
            task.cancel()
        self.loop.run_until_complete(asyncio.sleep(0))
        self.loop.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> RecordingUpstream:
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


def send_raw(
    base: str, data: bytes, timeout: float = 5, complete: Callable[[bytes], bool] = lambda received: False
) -> bytes:
    """Send bytes on a fresh connection and read until the server closes it (the caller ends with
    `Connection: close`, or sends something the server must close on), or until `complete` says enough."""
    parsed = urlsplit(base)
    with socket.create_connection((parsed.hostname, parsed.port), timeout=timeout) as sock:
        sock.sendall(data)
        received = b""
        while not complete(received):
            try:
                chunk = sock.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not chunk:
                break
            received += chunk
        return received


@dataclass
class Response:
    status: int
    fields: dict[bytes, bytes]
    body: bytes


def responses(raw: bytes) -> list[Response]:
    """Every complete response in a raw byte stream, in order (pipelined responses and interim 100s included),
    read by their framing."""
    found: list[Response] = []
    while raw.startswith(b"HTTP/1.1 "):
        head, sep, rest = raw.partition(b"\r\n\r\n")
        if not sep:
            break
        status = int(head[9:12])
        fields = {
            k.strip().lower(): v.strip() for k, _, v in (line.partition(b":") for line in head.split(b"\r\n")[1:])
        }
        if status < 200:
            found.append(Response(status, fields, b""))
            raw = rest
        elif b"content-length" in fields:
            length = int(fields[b"content-length"])
            if len(rest) < length:
                break
            found.append(Response(status, fields, rest[:length]))
            raw = rest[length:]
        elif fields.get(b"transfer-encoding") == b"chunked":
            body = b""
            while True:
                size_line, _, rest = rest.partition(b"\r\n")
                size = int(size_line.split(b";")[0] or b"0", 16)
                body, rest = body + rest[:size], rest[size + 2 :]
                if size == 0:
                    break
            found.append(Response(status, fields, body))
            raw = rest
        else:
            break
    return found


def statuses(raw: bytes) -> list[int]:
    """The status codes of every complete response in a raw byte stream, in order."""
    return [response.status for response in responses(raw)]
