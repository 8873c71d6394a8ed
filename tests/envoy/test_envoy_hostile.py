"""Every class of hostile request gets the same answer from the reference gateway and from a real Envoy configured
as kgateway configures it, or the difference is one of conformance.envoy.divergences, which must still hold.

Both targets get the same manifests: an open route (`public.example.com`, prefix `/public`, beside a protected
`/private` rule on the same upstream) and routes guarded by an API key policy, all to an upstream that echoes the
request head it receives and records every request it reads (by the request's own framing), so what each upstream
saw (path, Host, framing, body, how many requests) is compared too, not only the status.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
import yaml
from echo_upstream import EchoUpstream
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance.envoy.divergences import REQUEST_HANDLING
from conformance.targets.envoy import EnvoyTarget
from conformance.targets.reference import ReferenceTarget

KEY = "hostile-envoy-key-0123456789"
MANIFESTS = f"""
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: gw, namespace: default}}
spec:
  gatewayClassName: kgateway
  listeners: [{{name: http, port: 8080, protocol: HTTP}}]
---
apiVersion: v1
kind: Secret
metadata: {{name: keys, namespace: default}}
stringData: {{client: {KEY}}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: public, namespace: default}}
spec:
  parentRefs: [{{name: gw}}]
  hostnames: [public.example.com]
  rules:
  - matches: [{{path: {{type: PathPrefix, value: /public}}}}]
    backendRefs: [{{name: echo, port: 80}}]
  - name: private
    matches: [{{path: {{type: PathPrefix, value: /private}}}}]
    backendRefs: [{{name: echo, port: 80}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: www, namespace: default}}
spec:
  parentRefs: [{{name: gw}}]
  hostnames: [www.example.com]
  rules:
  - backendRefs: [{{name: echo, port: 80}}]
---
apiVersion: gateway.kgateway.dev/v1alpha1
kind: TrafficPolicy
metadata: {{name: auth, namespace: default}}
spec:
  targetRefs:
  - {{group: gateway.networking.k8s.io, kind: HTTPRoute, name: www}}
  - {{group: gateway.networking.k8s.io, kind: HTTPRoute, name: public, sectionName: private}}
  apiKeyAuth:
    secretRef: {{name: keys}}
    keySources: [{{header: api-key}}, {{query: api_key}}, {{cookie: api_key}}]
"""


@pytest.fixture(scope="module")
def upstream() -> Iterator[EchoUpstream]:
    echo = EchoUpstream()
    yield echo
    echo.stop()


@pytest.fixture(scope="module")
def targets(tmp_path_factory: pytest.TempPathFactory, upstream: EchoUpstream) -> Iterator[dict[str, str]]:
    echo = upstream
    options = {"work_dir": str(tmp_path_factory.mktemp("envoy")), "backends": f"echo=http://127.0.0.1:{echo.port}"}
    reason = EnvoyTarget.unavailable_reason(options)
    if reason:
        pytest.skip(reason)
    manifests = [d for d in yaml.safe_load_all(MANIFESTS) if d]
    started = []
    try:
        for target in (ReferenceTarget(options), EnvoyTarget(options)):
            target.start()
            started.append(target)
            target.apply(manifests)
            target.wait_applied(manifests, timeout=30)
        yield {target.name: target.base_url(8080) for target in started}
    finally:
        for target in started:
            target.close()


def exchange(base: str, data: bytes, timeout: float = 10) -> tuple[int, bytes]:
    """(status, body) of the first response, read by its Content-Length (Envoy delays closing a connection)."""
    parts = urlsplit(base)
    received = b""
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(data)
        try:
            while chunk := sock.recv(65536):
                received += chunk
                head, sep, body = received.partition(b"\r\n\r\n")
                length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
                if sep and length and len(body) >= int(length[1]):
                    break
        except (ConnectionResetError, TimeoutError):
            pass
    head, _, body = received.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def upstream_saw(body: bytes) -> tuple[bytes, list[bytes]]:
    """The request line's target and the Host values the echo upstream received."""
    lines = body.split(b"\r\n")
    hosts = [line.split(b":", 1)[1].strip() for line in lines[1:] if line.lower().startswith(b"host:")]
    return lines[0].split(b" ")[1], hosts


def req(target: str, *headers: str, host: str | None = "www.example.com", version: str = "HTTP/1.1") -> bytes:
    lines = [f"GET {target} {version}"] + ([f"Host: {host}"] if host is not None else []) + list(headers)
    return ("\r\n".join([*lines, "Connection: close"]) + "\r\n\r\n").encode("latin-1")


P = "public.example.com"
CASES: list[tuple[str, bytes, str | None]] = [
    # Host
    ("two Host headers", req("/public/x", "Host: www.example.com", host=P), "duplicate-host"),
    ("no Host", req("/x", host=None), None),
    ("Host with a space", req("/x", host="www.example.com evil"), None),
    ("Host with a path", req("/x", host="www.example.com/a"), None),
    ("Host in capitals", req("/x", f"api-key: {KEY}", host="WWW.EXAMPLE.COM"), None),
    ("Host with a port", req("/public/x", host=f"{P}:8080"), None),
    ("Host with a trailing dot", req("/public/x", host=f"{P}."), None),
    ("empty Host", req("/public/x", host=""), None),
    ("Host with userinfo", req("/public/x", host=f"user@{P}"), None),
    ("absolute-form to the protected host", req("http://www.example.com/x", host=P), None),
    ("absolute-form to the open host", req(f"http://{P}/public/x", host="www.example.com"), None),
    ("absolute-form https", req("https://www.example.com/x"), None),
    # paths
    ("dot segments out of the open prefix", req("/public/../x", host=P), None),
    ("escaped dots out of the open prefix", req("/public/%2e%2e/x", host=P), None),
    ("backslash dot segments", req("/public/..\\x", host=P), None),
    ("dot-dot-semicolon", req("/public/..;/x", host=P), None),
    ("escaped slash kept", req("/public%2F..%2Fx", host=P), None),
    ("escaped unreserved prefix", req("/%70ublic/x", host=P), None),
    ("merged slashes", req("//public//x", host=P), None),
    ("upper-case prefix", req("/PUBLIC/x", host=P), None),
    ("fragment", req("/public/x#f", host=P), None),
    ("escaped NUL", req("/public/%00", host=P), None),
    ("no leading slash", req("public/x", host=P), None),
    ("nested escape", req("/public/%%31x/%4%31", host=P), None),
    # protocol
    ("HTTP/1.0", req("/x", version="HTTP/1.0"), None),
    ("lower-case method", b"get /x HTTP/1.1\r\nHost: www.example.com\r\nConnection: close\r\n\r\n", None),
    ("CONNECT", b"CONNECT www.example.com:80 HTTP/1.1\r\nHost: www.example.com:80\r\n\r\n", None),
    ("websocket upgrade", req("/public/x", "Connection: Upgrade", "Upgrade: websocket", host=P), None),
    (
        "Transfer-Encoding other than chunked",
        b"POST /public/x HTTP/1.1\r\nHost: public.example.com\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        None,
    ),
    (
        "two Content-Lengths",
        b"POST /public/x HTTP/1.1\r\nHost: public.example.com\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        None,
    ),
    (
        "Content-Length and chunked",
        b"POST /x HTTP/1.1\r\nHost: public.example.com\r\nContent-Length: 3\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        None,
    ),
    # header fields
    ("a 61 KiB header", req("/public/x", "x-big: " + "b" * 61 * 1024, host=P), None),
    ("101 headers", req("/public/x", *(f"x-h{i}: {i}" for i in range(101)), host=P), None),
    ("header name with a space", req("/public/x", "X A: b", host=P), None),
    ("obs-fold", req("/public/x", "X-A: a\r\n  folded", host=P), "lenient-framing"),
    ("bare CR in a value", req("/public/x", "X-A: a\rb", host=P), "lenient-framing"),
    (
        "bare LF line endings",
        b"GET /public/x HTTP/1.1\nHost: public.example.com\nConnection: close\n\n",
        "lenient-framing",
    ),
    ("8-bit header value", req("/public/x", "X-A: caf\u00e9", host=P), None),
    # credentials
    ("Bearer with two spaces", req("/x", f"api-key: Bearer  {KEY}"), None),
    ("lower-case bearer", req("/x", f"api-key: bearer {KEY}"), None),
    ("Bearer and a tab", req("/x", f"api-key: Bearer\t{KEY}"), None),
    ("wrong key first, right key second", req("/x", "api-key: wrong", f"api-key: {KEY}"), None),
    ("key in a list value", req("/x", f"api-key: {KEY}, other"), None),
    ("percent-encoded query key", req("/x?api_key=" + "".join(f"%{b:02X}" for b in KEY.encode())), None),
    ("quoted cookie", req("/x", f'Cookie: api_key="{KEY}"'), None),
    ("underscore for the header name", req("/x", f"api_key: {KEY}"), None),
]


@pytest.mark.parametrize(("data", "divergence"), [pytest.param(d, v, id=name) for name, d, v in CASES])
def test_hostile_request_classes_get_envoys_answer(targets, data, divergence):
    reference_status, reference_body = exchange(targets["reference"], data)
    envoy_status, envoy_body = exchange(targets["envoy"], data)
    if divergence is not None:
        assert divergence in {d.id for d in REQUEST_HANDLING}
        assert reference_status != envoy_status, f"listed divergence {divergence!r} no longer holds: drop it"
        assert reference_status == 400  # the reference side is always the stricter one
        return
    assert reference_status == envoy_status
    if reference_status == 200:  # the same request reached the upstream, in the same shape
        assert upstream_saw(reference_body) == upstream_saw(envoy_body)


PATH_PIECES = [
    "/", "/", "\\", "//", ".", "..", "%2e", "%2E", "%2f", "%5C", "a", "public", ";", "%41", "%", "%0", "%00", "~",
    '"', "|", "%7e", "%3", "1", "f", "%%", "%4", "%31", "%61", "{", "..;", ".;x",
]  # fmt: skip


@settings(
    max_examples=400, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(pieces=st.lists(st.sampled_from(PATH_PIECES), max_size=10))
def test_paths_are_normalised_and_routed_as_envoy_does(targets, pieces):
    """reference_impl.gateway.request_target against the real thing: same status, same path upstream."""
    data = req("/public" + "".join(pieces), host=P)
    reference = exchange(targets["reference"], data)
    envoy = exchange(targets["envoy"], data)
    assert reference[0] == envoy[0], data
    if reference[0] == 200:
        assert upstream_saw(reference[1]) == upstream_saw(envoy[1])


# -- the connection level: Connection options, framing, trailers, whitespace, pipelining ------------------------
def conversation(base: str, data: bytes, upstream: EchoUpstream) -> tuple[list[int], list[tuple]]:
    """Every response status on one connection (the bytes end with `Connection: close`, or with something the
    gateway must close on), and what the upstream received meanwhile: method and target, Host, framing, body and
    the header names (less the ones only Envoy adds)."""
    before = len(upstream.received)
    parts = urlsplit(base)
    received = b""
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(data)
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except (ConnectionResetError, TimeoutError):
            pass
    time.sleep(0.05)  # a request smuggled upstream would be read by now
    found = [int(m) for m in re.findall(rb"(?m)^HTTP/1\.1 (\d{3}) ", received)]
    seen = []
    for request in upstream.received[before:]:
        fields = request.fields
        names = sorted({k for k, _ in fields} - ENVOY_ONLY)
        framing = [(k, v) for k, v in fields if k in (b"content-length", b"transfer-encoding")]
        hosts = [v for k, v in fields if k == b"host"]
        seen.append((request.head.split(b"\r\n", 1)[0], hosts, framing, request.body, names))
    return found, seen


ENVOY_ONLY = {b"x-request-id", b"x-envoy-external-address"}
SMUGGLED = b"GET /private/admin HTTP/1.1\r\nHost: public.example.com\r\nx-smuggled: 1\r\n\r\n"


def head(method: str, target: str, *lines: str, host: str = P) -> bytes:
    return ("\r\n".join([f"{method} {target} HTTP/1.1", f"Host: {host}", *lines]) + "\r\n\r\n").encode("latin-1")


def chunked(target: str, *trailers: str, head_lines: tuple[str, ...] = (), host: str = P) -> bytes:
    lines = ("Transfer-Encoding: chunked", *head_lines, "Connection: close")
    return head("POST", target, *lines, host=host) + (
        b"5\r\nhello\r\n0\r\n" + "".join(f"{t}\r\n" for t in trailers).encode("latin-1") + b"\r\n"
    )


def option(value: str, *lines: str, target: str = "/public/x", host: str = P) -> bytes:
    return head("GET", target, f"Connection: {value}", *lines, host=host)


CONNECTION_CASES: list[tuple[str, bytes, str | None]] = [
    # Connection may not unframe a body (the exact sequence that smuggled a request upstream), nor remove Host
    (
        "Connection names Content-Length",
        head("POST", "/public/x", "Connection: content-length", f"Content-Length: {len(SMUGGLED)}") + SMUGGLED,
        None,
    ),
    (
        "Connection names Content-Length, then close",
        head("POST", "/public/x", "Connection: Content-Length, close", "Content-Length: 5") + b"hello",
        None,
    ),
    ("Connection names Transfer-Encoding", chunked("/public/x", head_lines=("Connection: transfer-encoding",)), None),
    ("Connection names Host", option("host, close"), None),
    ("Connection names HOST", option("close, HOST"), None),
    ("Connection names X-Forwarded-For", option("x-forwarded-for, close", "X-Forwarded-For: 1.2.3.4"), None),
    ("Connection names X-Forwarded-Proto", option("x-forwarded-proto, close"), None),
    ("Connection names X-Forwarded-Host", option("x-forwarded-host, close", "X-Forwarded-Host: a"), None),
    ("Connection names a pseudo-header", option(":authority, close"), None),
    ("Connection names the key header", option("api-key, close", f"api-key: {KEY}", target="/private/x"), None),
    ("Connection names Cookie", option("cookie, close", f"Cookie: api_key={KEY}", target="/private/x"), None),
    ("Connection names several", option("x-a, x-b, close", "x-a: 1", "x-b: 2", "x-c: 3"), None),
    ("two Connection headers", head("GET", "/public/x", "Connection: x-a", "Connection: close", "x-a: 1"), None),
    ("Connection names TE: trailers", option("te, close", "TE: trailers"), None),
    ("TE: trailers, gzip", head("GET", "/public/x", "TE: trailers, gzip", "Connection: close"), None),
    ("TE: gzip", head("GET", "/public/x", "TE: gzip", "Connection: close"), None),
    ("Connection names Upgrade without one", option("upgrade, close"), None),
    ("Connection names Keep-Alive and more", option("keep-alive, x-a", "x-a: 1") + option("close"), None),
    ("Connection with empty options", option(", , close"), None),
    # trailers are not headers
    ("a key in the trailers", chunked("/private/x", f"api-key: {KEY}"), None),
    ("a Connection trailer naming Host", chunked("/public/x", "Connection: host", "x-t: 1"), None),
    ("a trailer Connection names", chunked("/public/x", "x-t: 1", head_lines=("Connection: x-t",)), None),
    (
        "a chunk extension",
        head("POST", "/public/x", "Transfer-Encoding: chunked", "Connection: close") + b"5;ext=1\r\nhello\r\n0\r\n\r\n",
        None,
    ),
    # whitespace
    ("trailing spaces after a key", head("GET", "/private/x", f"api-key: Bearer {KEY}   ", "Connection: close"), None),
    ("a trailing tab after a key", head("GET", "/private/x", f"api-key: {KEY}\t", "Connection: close"), None),
    (
        "61 KiB of whitespace in a head",
        head("GET", "/public/x", "x-a:" + " " * 61 * 1024 + "v", "Connection: close"),
        None,
    ),
    (
        "58 KiB of whitespace in a head",
        head("GET", "/public/x", "x-a:" + " " * 58 * 1024 + "v", "Connection: close"),
        None,
    ),
    ("blank lines before a request", b"\r\n\r\n" + head("GET", "/public/x", "Connection: close"), None),
    # pipelining: in order, one answer per request, a bad request never overtakes the one before it
    ("pipelined, then a malformed request", head("GET", "/public/a") + head("GET", "/public/b", "Bad Header: x"), None),
    (
        "pipelined, then a 62 KiB header",
        head("GET", "/public/a") + head("GET", "/public/b", "x-b: " + "b" * 62 * 1024),
        None,
    ),
    (
        "pipelined, then two Content-Lengths",
        head("GET", "/public/a") + head("POST", "/public/b", "Content-Length: 1", "Content-Length: 2") + b"ab",
        None,
    ),
    (
        "pipelined past Connection: close",
        head("GET", "/public/a", "Connection: close") + head("GET", "/public/b"),
        None,
    ),
    (
        "pipelined, keyed and not",
        head("GET", "/private/a")
        + head("GET", "/private/b", f"api-key: {KEY}")
        + head("GET", "/public/c", "Connection: close"),
        None,
    ),
]


@pytest.mark.parametrize(("data", "divergence"), [pytest.param(d, v, id=name) for name, d, v in CONNECTION_CASES])
def test_connection_level_hostility_gets_envoys_answer(targets, upstream, data, divergence):
    reference = conversation(targets["reference"], data, upstream)
    envoy = conversation(targets["envoy"], data, upstream)
    assert divergence is None  # none of these differ
    assert reference == envoy


def test_a_hung_upstream_and_an_abandoned_request_end_as_in_envoy(targets, upstream):
    """Envoy's route timeout (15 s, kgateway sets none) ends a request to a hung upstream with 504 and closes the
    upstream connection; a client that goes away closes it at once. Both gateways are timed in one run."""
    base = {name: urlsplit(url) for name, url in targets.items()}
    abandoned = {}
    for name, parts in base.items():
        sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
        sock.sendall(head("GET", f"/public/hang/abandoned-{name}"))
        abandoned[name] = sock
    time.sleep(0.5)
    for sock in abandoned.values():
        sock.close()
    closed_at = time.monotonic()

    def timed(url: str) -> tuple[float, tuple[int, bytes], float]:
        started = time.monotonic()
        return started, exchange(url, head("GET", "/public/hang/route"), timeout=30), time.monotonic()

    with ThreadPoolExecutor(2) as pool:
        futures = {name: pool.submit(timed, url) for name, url in targets.items()}
        results = {name: future.result() for name, future in futures.items()}
    for name, (started, (status, body), ended) in results.items():
        assert (status, body) == (504, b"upstream request timeout"), name
        assert 14.5 < ended - started < 17, (name, ended - started)
    closed = {target: when for target, when in upstream.closed}
    for name in targets:
        assert closed[f"/public/hang/abandoned-{name}".encode()] - closed_at < 1.0, name
