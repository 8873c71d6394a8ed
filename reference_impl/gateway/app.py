"""The gateway as a pure ASGI app: route, decide, then proxy. One instance serves every listener port."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from email.utils import formatdate
from typing import Any

from reference_impl.auth import agentgateway, kgateway
from reference_impl.auth.decision import Allow, Deny, Headers, RequestParts
from reference_impl.auth.extract import first_query_param
from reference_impl.compile.routes import Candidate, Match, Rule, host_of
from reference_impl.gateway import envoy_headers, hop_by_hop
from reference_impl.gateway.observe import AccessLog, AccessRecord, Counters
from reference_impl.gateway.proxy import Proxy, UpstreamError
from reference_impl.gateway.request_target import host_problem, normalize_path
from reference_impl.store import Store

ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]

DECIDERS: dict[type, Callable[[Any, RequestParts], Allow | Deny]] = {
    kgateway.KgatewayAuth: kgateway.decide,
    agentgateway.AgentgatewayAuth: agentgateway.decide,
}


def rule_decision(
    rule: Rule,
    headers: Headers,
    query: bytes,
    deciders: Mapping[type, Callable[[Any, RequestParts], Allow | Deny]] = DECIDERS,
) -> Allow | Deny:
    """What a rule decides for one request: its effective auth, then, for a rule kgateway served as an error, that
    error (the auth around a replaced rule still answers first, as Envoy's filter runs before the route)."""
    auth = rule.auth
    if auth is None:
        decision: Allow | Deny = Allow(headers, query, outcome="no-auth")
    elif isinstance(auth, Deny):
        return auth
    else:
        decision = deciders[type(auth)](auth, RequestParts(headers, query))
    if isinstance(decision, Allow) and rule.replaced is not None:
        return rule.replaced
    return decision


def matches(match: Match, path: str, method: str, headers: Headers, query_string: bytes) -> bool:
    if match.exact_path is not None:
        if path != match.exact_path:
            return False
    elif match.prefix and not (path == match.prefix or path.startswith(match.prefix + "/")):
        return False
    if match.method is not None and method != match.method:
        return False
    for name, value in match.headers:
        if not any(k == name and v == value for k, v in headers):
            return False
    # Gateway API matches a query parameter's first value, as the key extractors read it.
    return all(first_query_param(query_string, name) == value for name, value in match.query)


def select(candidates: tuple[Candidate, ...], path: str, method: str, headers: Headers, query: bytes) -> Rule | None:
    for candidate in candidates:
        if matches(candidate.match, path, method, headers, query):
            return candidate.rule
    return None


class BadRequest:
    """Why a request cannot be routed safely; the client gets 400 with this reason."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


def request_target(headers: Headers, raw_path: bytes) -> tuple[str, bytes] | BadRequest:
    """(routing host, normalised path) or why not. Exactly one valid Host (RFC 9112 section 3.2), and the path as
    kgateway's Envoy normalises it: routing and forwarding then see the same host and the same path."""
    authority = None
    for name, value in headers:
        if name == b"host":
            if authority is not None:
                return BadRequest("duplicate Host header")
            authority = value
    if authority is None:
        return BadRequest("missing Host header")
    if host_problem(authority):
        return BadRequest("invalid Host header")
    path = normalize_path(raw_path) if raw_path != b"*" else raw_path
    if path is None:
        return BadRequest("invalid request path")
    return host_of(authority.decode("ascii")), path


_date_cache: list = [0, b""]


def http_date() -> bytes:
    """The Date header value, formatted at most once a second."""
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache[0], _date_cache[1] = now, formatdate(now, usegmt=True).encode("latin-1")
    return _date_cache[1]


async def respond(send: Any, status: int, body: bytes, content_type: bytes = b"text/plain") -> int:
    """A local reply (deny, no route, upstream failure): the gateway's own short text response."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                (b"date", http_date()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
    return status


class Gateway:
    """Reads the store's current snapshot on every request; never blocks on a change."""

    def __init__(
        self,
        store: Store,
        proxy: Proxy | None = None,
        counters: Counters | None = None,
        deciders: Mapping[type, Callable[[Any, RequestParts], Allow | Deny]] | None = None,
        access_log: AccessLog | None = None,
    ) -> None:
        self.store = store
        self.proxy = proxy or Proxy()
        self.counters = counters or Counters()
        self.access_log = access_log or AccessLog()
        self.deciders = dict(deciders or DECIDERS)  # replaceable so a harness can inject a known fault

    def listener(self, port: int) -> ASGIApp:
        """The ASGI app for one Gateway listener port."""

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                await self.handle(scope, receive, send, port)
            elif scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})

        return app

    async def handle(self, scope: dict[str, Any], receive: Any, send: Any, port: int) -> None:
        started = time.perf_counter()
        headers: Headers = scope["headers"]
        method: str = scope["method"]
        rule: Rule | None = None
        host = path_text = ""
        decision_name, client = "bad-request", None
        status = 0  # stays 0 only if the client went away before a response started
        try:
            target = request_target(headers, scope.get("raw_path") or scope["path"].encode("utf-8"))
            if isinstance(target, BadRequest):
                status = await respond(send, 400, target.reason.encode())
                return
            host, path = target
            # Routes match the same normalised path the upstream receives.
            path_text = path.decode("latin-1")
            decision_name = "no-route"
            table = self.store.snapshot.table(port)
            query: bytes = scope.get("query_string", b"")
            envoy = table is not None and table.envoy_headers
            # Connection-specific headers go before the decision: it sees exactly what the upstream gets.
            cleaned = envoy_headers.request_headers(headers) if envoy else hop_by_hop.request_headers(headers)
            if isinstance(cleaned, hop_by_hop.Refused):
                decision_name = "bad-request"
                status = await respond(send, 400, str(cleaned).encode())
                return
            headers = envoy_headers.joined(cleaned) if envoy else cleaned
            rule = select(table.candidates(host), path_text, method, headers, query) if table else None
            if rule is None:
                status = await respond(send, 404, b"no route matches this request")
                return
            decision = rule_decision(rule, headers, query, self.deciders)
            if isinstance(decision, Deny):
                decision_name = decision.reason
                if rule.policy and decision.reason != "invalid-policy":
                    self.counters.record(rule.policy, f"<{decision.reason}>", allowed=False)
                status = await respond(send, decision.status, decision.body, decision.content_type)
                return
            decision_name, client = decision.outcome, decision.client
            if rule.policy and decision.outcome != "no-auth":
                self.counters.record(rule.policy, client or f"<{decision.outcome}>", allowed=True)

            if rule.backend is None:
                # Gateway API: a rule whose backend cannot be resolved answers 500.
                status = await respond(send, 500, f"backend unavailable: {rule.backend_error}".encode())
                return
            forward_headers = decision.headers
            if rule.header_edit is not None:
                forward_headers = rule.header_edit.apply(forward_headers)
            if envoy:
                forward_headers = envoy_headers.forwardable(forward_headers)
            try:
                status = await self.proxy.forward(
                    scope,
                    receive,
                    send,
                    base_url=rule.backend,
                    headers=forward_headers,
                    query_string=decision.query_string,
                    path=path,
                )
            except UpstreamError as error:
                status = await respond(send, error.status, error.message.encode("utf-8"))
        finally:
            self.access_log(
                AccessRecord(
                    listener=port,
                    method=method,
                    host=host,
                    path=path_text,
                    route=rule.label if rule else None,
                    policy=rule.policy if rule else None,
                    decision=decision_name,
                    client=client,
                    status=status,
                    duration_ms=(time.perf_counter() - started) * 1000,
                )
            )
