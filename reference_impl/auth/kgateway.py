"""kgateway's `apiKeyAuth` at request time, as Envoy's api_key_auth filter applies it."""

from __future__ import annotations

from dataclasses import dataclass

from reference_impl.auth.decision import Allow, Deny, Headers, RequestParts
from reference_impl.auth.extract import (
    cookie_value,
    first_header,
    first_query_param,
    with_header,
    without_cookie,
    without_header,
    without_query_param,
)
from reference_impl.auth.keys import KeyIndex

UNAUTHORIZED_BODY = b"Client authentication failed."
INVALID_POLICY_BODY = b"invalid route configuration detected and replaced with a direct response."
BEARER = b"Bearer "


@dataclass(frozen=True, slots=True)
class Source:
    """One `keySources` item reduced to the single field that counts: header, else query, else cookie."""

    kind: str  # header | query | cookie
    name: bytes  # header names lower-cased


@dataclass(frozen=True, slots=True)
class KgatewayAuth:
    sources: tuple[Source, ...]
    clients: KeyIndex[str]
    forward_credential: bool
    client_id_header: bytes | None
    policy: str  # "ns/name", for logs and counters


DENY_UNAUTHORIZED = Deny(401, UNAUTHORIZED_BODY, "invalid")
DENY_MISSING = Deny(401, UNAUTHORIZED_BODY, "missing")
DENY_INVALID_POLICY = Deny(500, INVALID_POLICY_BODY, "invalid-policy")


def extract(source: Source, request: RequestParts) -> bytes | None:
    if source.kind == "header":
        value = first_header(request.headers, source.name)
        if value is not None and value.startswith(BEARER):
            value = value[len(BEARER) :]
        return value
    if source.kind == "query":
        return first_query_param(request.query_string, source.name)
    return cookie_value(request.headers, source.name)


def hide(sources: tuple[Source, ...], headers: Headers, query_string: bytes) -> tuple[Headers, bytes]:
    """Remove the credential from every configured source, used or not."""
    for source in sources:
        if source.kind == "header":
            headers = without_header(headers, source.name)
        elif source.kind == "query":
            query_string = without_query_param(query_string, source.name)
        else:
            headers = without_cookie(headers, source.name)
    return headers, query_string


def decide(auth: KgatewayAuth, request: RequestParts) -> Allow | Deny:
    key = None
    for source in auth.sources:
        key = extract(source, request)
        if key:  # the first non-empty value decides; a later source never rescues a wrong key
            break
    if not key:
        return DENY_MISSING
    client = auth.clients.lookup(key)
    if client is None:
        return DENY_UNAUTHORIZED
    headers, query_string = request.headers, request.query_string
    if not auth.forward_credential:
        headers, query_string = hide(auth.sources, headers, query_string)
    if auth.client_id_header is not None:
        headers = with_header(headers, auth.client_id_header, client.encode("utf-8"))
    return Allow(headers, query_string, client=client)
