"""Hostile requests against a running gateway: nothing without a valid key reaches a protected upstream.

Open and protected routes share hosts and path prefixes; hypothesis generates malformed and duplicated headers,
Host tricks, dot segments and encodings, odd `Bearer` spacing, huge and binary values, bodies and pipelined
requests. Invariants, checked after every example:
  * a request reaching a protected upstream carried the valid key (raw or percent-encoded) somewhere;
  * a request reaching the open upstream is for the open host, under its open prefix, however the upstream
    resolves dot segments and unreserved escapes;
  * the gateway answers no request with a 5xx (every upstream here is healthy);
and at the end: no key in any log line or admin document, and the gateway still answers.

At the connection level (Connection options naming framing, Host or key headers; Content-Length and chunked
bodies, some holding a whole request to smuggle; trailers; padded values; pipelining; clients that vanish half-way):
  * each client request reaches an upstream exactly once or not at all, and nothing reaches one that no client
    request was (a smuggled request carries an id no client request had);
  * answers come back in order, at most one per request;
  * the gateway lets go of every connection its client closed (every wait has a deadline).
"""

from __future__ import annotations

import logging
import posixpath
import re
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import quote, unquote_to_bytes, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from refsupport import (
    RecordingUpstream,
    Response,
    ag_policy,
    fetch,
    gateway,
    parse_manifest,
    responses,
    route,
    rule,
    secret,
    send_raw,
    statuses,
    target,
    traffic_policy,
)

from reference_impl.compile.snapshot import BackendMap
from reference_impl.gateway.http1 import Limits
from reference_impl.gateway.server import GatewayServer
from reference_impl.store import Store

KEY = "hostile-valid-key-0123456789"
ENCODED_KEY = "".join(f"%{b:02X}" for b in KEY.encode())
WRONG = "hostile-wrong-key-0123456789"
CLIENT = "trusted-client"
HOSTS = {"kgateway": 8080, "agentgateway": 80}


@dataclass
class Edge:
    server: GatewayServer
    open: RecordingUpstream
    protected: RecordingUpstream
    records: list[logging.LogRecord] = field(default_factory=list)

    def url(self, listener: int) -> str:
        return self.server.url(listener)


class _Keep(logging.Handler):
    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__(logging.DEBUG)
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def edge() -> Iterator[Edge]:
    open_upstream = RecordingUpstream().start()
    protected = RecordingUpstream().start()
    listeners = [{"name": "http", "port": 8080, "protocol": "HTTP", "allowedRoutes": {"namespaces": {"from": "All"}}}]
    documents = [
        gateway("edge", listeners=listeners),
        secret("edge-keys", **{CLIENT: KEY}),
        route(
            "public",
            parent="edge",
            hostnames=["public.example.com"],
            rules=[rule(path="/public", backend="open"), rule(name="private", path="/private", backend="protected")],
        ),
        route("www", parent="edge", hostnames=["www.example.com"], rules=[rule(backend="protected")]),
        traffic_policy(
            "edge-auth",
            targets=[target("HTTPRoute", "www"), target("HTTPRoute", "public", "private")],
            secretRef={"name": "edge-keys"},
            keySources=[{"header": "api-key"}, {"query": "api_key"}, {"cookie": "api_key"}],
            clientIdHeader="x-client-id",
        ),
        gateway("agw", cls="agentgateway", listeners=[{"name": "http", "port": 80, "protocol": "HTTP"}]),
        route("agw-route", parent="agw", hostnames=["agw.example.com"], rules=[rule(backend="protected")]),
        ag_policy("agw-auth", targets=[target("Gateway", "agw")], secretRef={"name": "edge-keys"}),
    ]
    store = Store(BackendMap({"open": open_upstream.url, "protected": protected.url}))
    store.apply([parse_manifest(d) for d in documents])
    records: list[logging.LogRecord] = []
    handler = _Keep(records)
    logger = logging.getLogger("reference_impl")
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    server = GatewayServer(store, limits=Limits(request_headers_timeout=1.0))
    server.start_in_thread({8080: 0, 80: 0})
    try:
        yield Edge(server, open_upstream, protected, records)
    finally:
        server.stop_thread()
        logger.removeHandler(handler)
        logger.setLevel(previous)
        open_upstream.stop()
        protected.stop()


# -- generated requests ------------------------------------------------------------------------------------------
SEGMENTS = [
    "public", "private", "anything", "x", "..", ".", "%2e%2e", "%2E", ".%2e", "%2f", "%2F", "%5c", "%70ublic",
    "%70rivate", "..;", ".;x", "%252e%252e", "PUBLIC", "public%2F..%2Fprivate", "", "a;b", "%41", "~", "%7E",
]  # fmt: skip
SEPARATORS = ["/", "/", "\\", "//"]
CLIMB = ["..", "%2e%2e", ".%2e", "%2E.", "..;", "..;x", "%2e%2e%2f", "..%5c"]
GOOD_HOSTS = ["www.example.com", "public.example.com", "public.example.com", "agw.example.com"]
ODD_HOSTS = [
    "WWW.EXAMPLE.COM", "public.example.com:8080", "public.example.com.", "", "evil.example.com", "[::1]",
    "public.example.com, www.example.com", "user@www.example.com", "www.example.com/x", "public.example.com\tx",
]  # fmt: skip
API_KEY_VALUES = [
    KEY, WRONG, f"Bearer {KEY}", f"Bearer  {KEY}", f"bearer {KEY}", f"Bearer\t{KEY}", f" {KEY} ", "", "Bearer ",
    f"Bearer {WRONG}", "\u00ff\u00fe", f"{KEY}, {WRONG}",
]  # fmt: skip
AUTHORIZATION_VALUES = [f"Bearer {KEY}", f"bearer {KEY}", f"BEARER {KEY}", "Basic eA==", "Bearer ", f"Bearer {WRONG}"]
QUERY_VALUES = [KEY, ENCODED_KEY, WRONG, "", quote(f"{KEY} ")]
COOKIE_VALUES = [
    f"api_key={KEY}",
    f'api_key="{KEY}"',
    f"api_key={WRONG}",
    f"x=1; api_key={KEY}",
    "api_key=",
    f"api_key ={KEY}",
]


@st.composite
def paths(draw: st.DrawFn) -> str:
    if draw(st.integers(0, 3)) == 0:  # a plain path now and then, so allowed traffic happens too
        return draw(st.sampled_from(["/public/x", "/private/x", "/anything", "/"]))
    # An open prefix, then segments that try to climb out of it or disguise where they go.
    text = draw(st.sampled_from(["/public", "/public", "/private", "/%70ublic", "/PUBLIC", "//public", ""]))
    if draw(st.booleans()):
        text += draw(st.sampled_from(SEPARATORS)) + draw(st.sampled_from(CLIMB))
    for part in draw(st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=3)):
        text += draw(st.sampled_from(SEPARATORS)) + part
    return text if text.startswith("/") else "/" + text


@st.composite
def one_request(draw: st.DrawFn, request_id: int, last: bool) -> bytes:
    method = draw(st.sampled_from(["GET", "GET", "POST", "HEAD", "DELETE", "OPTIONS", "PUT"]))
    path = draw(paths())
    query: list[str] = []
    if draw(st.booleans()):
        query.append(f"api_key={draw(st.sampled_from(QUERY_VALUES))}")
    if draw(st.booleans()):
        query.insert(draw(st.integers(0, len(query))), draw(st.sampled_from(["a=1", "api_key", "&&", "x=%ZZ"])))
    target_text = path + ("?" + "&".join(query) if query else "")
    shape = draw(st.sampled_from(["one"] * 6 + ["odd", "odd", "none", "two"]))
    hosts = {
        "one": lambda: [draw(st.sampled_from(GOOD_HOSTS))],
        "odd": lambda: [draw(st.sampled_from(ODD_HOSTS))],
        "none": lambda: [],
        "two": lambda: draw(st.lists(st.sampled_from(GOOD_HOSTS + ODD_HOSTS), min_size=2, max_size=2)),
    }[shape]()
    if hosts and draw(st.integers(0, 9)) == 0:
        target_text = f"http://{hosts[0]}{target_text}"  # absolute-form
    lines = [f"{method} {target_text} HTTP/1.1"]
    lines += [f"Host: {host}" for host in hosts]
    for _ in range(draw(st.sampled_from([0, 1, 1, 1, 2]))):
        lines.append(f"api-key: {draw(st.sampled_from(API_KEY_VALUES))}")
    if draw(st.booleans()):
        lines.append(f"Authorization: {draw(st.sampled_from(AUTHORIZATION_VALUES))}")
    if draw(st.booleans()):
        lines.append(f"Cookie: {draw(st.sampled_from(COOKIE_VALUES))}")
    if draw(st.booleans()):
        lines.append(f"x-client-id: {draw(st.sampled_from([CLIENT, 'spoofed', '']))}")
    oddity = draw(st.sampled_from(["none"] * 14 + ["huge", "many", "binary", "fold", "bare-lf", "underscore"]))
    if oddity == "huge":
        lines.append("x-padding: " + "p" * draw(st.sampled_from([1000, 59_000, 70_000])))
    elif oddity == "many":
        lines += [f"x-h{i}: {i}" for i in range(draw(st.sampled_from([50, 101])))]
    elif oddity == "binary":
        lines.append("x-binary: \u00ff\u0080\u00fe")
    elif oddity == "fold":
        lines.append("x-folded: a\r\n  b")
    elif oddity == "underscore":
        lines.append(f"api_key: {KEY}")
    lines.append(f"x-hostile-id: {request_id}")
    body = b""
    if method in ("POST", "PUT") and draw(st.booleans()):
        body = b"field=value"
        lines.append(f"Content-Length: {len(body)}")
    if last:
        lines.append("Connection: close")
    terminator = "\n" if oddity == "bare-lf" else "\r\n"
    return (terminator.join(lines) + terminator + terminator).encode("latin-1") + body


@st.composite
def exchanges(draw: st.DrawFn) -> tuple[str, list[bytes]]:
    listener = draw(st.sampled_from(["kgateway", "kgateway", "kgateway", "agentgateway"]))
    count = draw(st.integers(1, 3))
    base = draw(st.integers(0, 10**9)) * 10
    return listener, [draw(one_request(base + i, i == count - 1)) for i in range(count)]


# -- invariants --------------------------------------------------------------------------------------------------
def _carries_key(request: bytes) -> bool:
    return KEY.encode() in request or ENCODED_KEY.encode() in request


def _resolved(path: bytes) -> str:
    """What an upstream that decodes unreserved escapes and resolves dot segments makes of a path."""
    decoded = re.sub(
        rb"%(2[eE]|[46][1-9a-fA-F]|[57][0-9aA]|3[0-9]|5[fF]|7[eE])", lambda m: unquote_to_bytes(m[0]), path
    )
    return posixpath.normpath(decoded.decode("latin-1").replace("\\", "/"))


def check_invariants(edge: Edge, sent: dict[int, bytes], open_seen: int, protected_seen: int) -> None:
    for received in edge.protected.received[protected_seen:]:
        ids = received.header(b"x-hostile-id")
        assert ids, f"a request reached the protected upstream without the test's id: {received}"
        request = sent[int(ids[0])]
        assert _carries_key(request), f"reached the protected upstream without a valid key: {request[:300]!r}"
    for received in edge.open.received[open_seen:]:
        hosts = [h.lower().rsplit(b":", 1)[0] for h in received.header(b"host")]
        assert hosts == [b"public.example.com"], f"open upstream got another host: {received}"
        path = received.target.split(b"?", 1)[0]
        assert _resolved(path).startswith("/public"), f"open upstream got a path outside /public: {received}"


BOUNDED = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,  # the same examples in every CI run: bounded and reproducible
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


def exchange_and_check(edge: Edge, listener: str, requests: list[bytes]) -> list[int]:
    sent = {int(re.search(rb"x-hostile-id: (\d+)", r)[1]): r for r in requests}
    open_seen, protected_seen = len(edge.open.received), len(edge.protected.received)
    raw = send_raw(edge.url(HOSTS[listener]), b"".join(requests))
    found = statuses(raw)
    for status in found:
        assert status < 500, f"{status} for {requests!r}"
    check_invariants(edge, sent, open_seen, protected_seen)
    return found


@BOUNDED
@given(host=st.sampled_from(GOOD_HOSTS + ODD_HOSTS), path=paths(), absolute=st.booleans())
def test_routing_and_forwarding_see_the_same_host_and_path(edge: Edge, host, path, absolute):
    """Path and Host tricks alone, without any key: nothing may reach the protected upstream, and the open
    upstream only ever gets the open host's open prefix."""
    target_text = f"http://{host}{path}" if absolute else path
    request = f"GET {target_text} HTTP/1.1\r\nHost: {host}\r\nx-hostile-id: 1\r\nConnection: close\r\n\r\n"
    exchange_and_check(edge, "kgateway", [request.encode("latin-1")])


@BOUNDED
@given(exchange=exchanges())
def test_nothing_without_a_valid_key_reaches_a_protected_upstream(edge: Edge, exchange):
    exchange_and_check(edge, *exchange)


def test_the_generated_traffic_exercised_both_outcomes(edge: Edge):
    # Guards the property test against vacuity: allowed requests and open-route requests both happened.
    assert edge.protected.received, "no generated request was ever allowed through"
    assert edge.open.received, "no generated request ever reached the open route"


def test_no_key_in_logs_or_admin_and_the_gateway_still_answers(edge: Edge):
    forms = [KEY, ENCODED_KEY, quote(KEY)]
    for record in edge.records:
        message = record.getMessage()
        assert not any(form in message for form in forms), message
    for path in ("/status", "/config", "/stats", "/ready"):
        text = fetch(edge.server.admin_url, path, host="localhost").text
        assert not any(form in text for form in forms)
    base = edge.url(8080)
    assert fetch(base, "/private", host="public.example.com").status == 401
    assert fetch(base, "/x", host="www.example.com", headers={"api-key": KEY}).status == 200
    assert fetch(base, "/public/x", host="public.example.com").status == 200


# -- the connection level: Connection options, framing, trailers, pipelining, partial and vanishing clients ------
CONNECTION_OPTIONS = [
    "keep-alive", "content-length", "transfer-encoding", "host", "api-key", "cookie", "authorization", "te",
    "upgrade", "x-forwarded-for", "x-client-id", "Content-Length", "HOST",
]  # fmt: skip
TRAILERS = [f"api-key: {KEY}", "Connection: host", "Host: www.example.com", "x-trailer: 1", f"Cookie: api_key={KEY}"]
PADDING = ["", "", " ", "\t", "   "]
SMUGGLED_ID = 10**12  # a smuggled request carries an id no client request had


def smuggled(request_id: int) -> bytes:
    return (
        f"GET /private/admin HTTP/1.1\r\nHost: public.example.com\r\nx-hostile-id: {SMUGGLED_ID + request_id}\r\n\r\n"
    ).encode()


@st.composite
def framed_request(draw: st.DrawFn, request_id: int, last: bool) -> bytes:
    method = draw(st.sampled_from(["GET", "POST", "PUT", "POST"]))
    path = draw(st.sampled_from(["/public/x", "/private/x", "/anything", "/public/y"]))
    lines = [f"{method} {path} HTTP/1.1", f"Host: {draw(st.sampled_from(GOOD_HOSTS))}", f"x-hostile-id: {request_id}"]
    if draw(st.booleans()):
        lines.append(f"api-key: {draw(st.sampled_from(API_KEY_VALUES))}{draw(st.sampled_from(PADDING))}")
    if draw(st.integers(0, 3)) == 0:
        lines.append(f"Cookie: api_key={KEY}")
    options = draw(st.lists(st.sampled_from(CONNECTION_OPTIONS), max_size=3))
    if last:
        options.append("close")
    if options:
        lines.append("Connection: " + ", ".join(options))
    body = draw(st.sampled_from([b"", b"field=value", smuggled(request_id)]))
    framing = draw(st.sampled_from(["length", "chunked"])) if body or method != "GET" else "none"
    if framing == "length":
        lines.append(f"Content-Length: {len(body)}")
        payload = body
    elif framing == "chunked":
        lines.append("Transfer-Encoding: chunked")
        trailers = draw(st.lists(st.sampled_from(TRAILERS), max_size=2))
        chunks = b"%x\r\n%s\r\n" % (len(body), body) if body else b""
        payload = chunks + b"0\r\n" + "".join(f"{t}\r\n" for t in trailers).encode() + b"\r\n"
    else:
        payload = b""
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload


@st.composite
def connections(draw: st.DrawFn) -> tuple[str, list[bytes], int | None]:
    """A listener, the requests of one connection, and where the client vanishes (None: it reads every answer)."""
    listener = draw(st.sampled_from(["kgateway", "kgateway", "kgateway", "agentgateway"]))
    count = draw(st.integers(1, 3))
    base = draw(st.integers(0, 10**9)) * 10
    requests = [draw(framed_request(base + i, i == count - 1)) for i in range(count)]
    total = sum(len(r) for r in requests)
    vanish = draw(st.one_of(st.none(), st.none(), st.integers(1, total - 1)))
    return listener, requests, vanish


def converse(edge: Edge, listener: str, requests: list[bytes], vanish: int | None) -> list[Response]:
    data = b"".join(requests)
    parts = urlsplit(edge.url(HOSTS[listener]))
    received = b""
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        sock.sendall(data if vanish is None else data[:vanish])
        if vanish is None:
            try:
                while chunk := sock.recv(65536):
                    received += chunk
            except (TimeoutError, ConnectionResetError):
                pass
    return responses(received)


@BOUNDED
@given(connection=connections())
def test_each_request_reaches_the_upstream_once_or_not_at_all(edge: Edge, connection):
    listener, requests, vanish = connection
    ids = [int(re.search(rb"x-hostile-id: (\d+)", r)[1]) for r in requests]
    sent = dict(zip(ids, requests, strict=True))
    open_seen, protected_seen = len(edge.open.received), len(edge.protected.received)
    answers = converse(edge, listener, requests, vanish)
    deadline = time.monotonic() + 3  # every wait has a deadline: the gateway lets go of the connection
    while edge.server.connections() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not edge.server.connections(), "the gateway still holds a connection its client closed"
    time.sleep(0.02)  # anything more sent upstream would be read by now
    forwarded = [
        r for u in (edge.open, edge.protected) for r in u.received[open_seen if u is edge.open else protected_seen :]
    ]
    seen_ids = [int(r.header(b"x-hostile-id")[0]) for r in forwarded if r.header(b"x-hostile-id")]
    assert len(seen_ids) == len(forwarded), f"a request reached an upstream without a client's id: {forwarded}"
    assert all(i in sent for i in seen_ids), f"a request no client sent reached an upstream: {forwarded}"
    assert len(set(seen_ids)) == len(seen_ids), f"a request reached an upstream twice: {forwarded}"
    check_invariants(edge, sent, open_seen, protected_seen)
    # Answers come back in order, at most one per request, and only the last may close the conversation early.
    assert len(answers) <= len(requests)
    echoed = [int(a.fields[b"x-hostile-id"]) for a in answers if b"x-hostile-id" in a.fields]
    assert echoed == sorted(echoed) and all(ids.index(i) < len(answers) for i in echoed)
    for position, answer in enumerate(answers):
        assert answer.status < 500, f"{answer.status} for {requests!r}"
        if b"x-hostile-id" in answer.fields:
            assert int(answer.fields[b"x-hostile-id"]) == ids[position], "an answer came back out of order"
