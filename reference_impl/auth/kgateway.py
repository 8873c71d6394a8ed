"""kgateway's `apiKeyAuth` at request time, as Envoy's api_key_auth filter applies it."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

from reference_impl.auth.decision import Allow, Deny, Headers, RequestParts
from reference_impl.auth.extract import (
    envoy_cookie_value,
    envoy_without_cookie,
    first_header,
    first_query_param,
    with_header,
    without_header,
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
# Envoy's upstream HTTP/1 codec refuses a :path with a control character (all but HTAB) or DEL in it.
DENY_UNFORWARDABLE_PATH = Deny(503, b"invalid header value for: :path", "unforwardable-path")
_PATH_FORBIDDEN = frozenset(range(0x20)) - {0x09} | {0x7F}


def extract(source: Source, request: RequestParts) -> bytes | None:
    if source.kind == "header":
        value = first_header(request.headers, source.name)
        if value is not None and value.startswith(BEARER):
            value = value[len(BEARER) :]
        return value
    if source.kind == "query":
        return first_query_param(request.query_string, source.name)
    return envoy_cookie_value(request.headers, source.name)


def rebuilt_query(query_string: bytes, name: bytes) -> bytes:
    """Envoy 1.40's removal of a query source's parameter (api_key_auth.cc removeKey, over QueryParamsMulti): the
    query is split on `&` (empty pieces become empty names, a trailing `&` adds nothing), names and values are
    percent-decoded (a `%` not followed by two hex digits is kept), `name` is dropped, and what remains is written
    back sorted by name (byte order), the values of a repeated name together in their order, each as
    `name=value` with its decoded bytes as they are. Nothing left: no query at all."""
    pieces = query_string.split(b"&")
    if pieces[-1] == b"":
        pieces.pop()
    params: dict[bytes, list[bytes]] = {}
    for piece in pieces:
        key, _, value = piece.partition(b"=")
        params.setdefault(unquote_to_bytes(key), []).append(unquote_to_bytes(value))
    params.pop(name, None)
    return b"&".join(key + b"=" + value for key in sorted(params) for value in params[key])


def hide(sources: tuple[Source, ...], headers: Headers, query_string: bytes) -> tuple[Headers, bytes]:
    """Remove the credential from every configured source, used or not. Each query source rebuilds the query
    once (so with two query sources, values are decoded twice), whichever source held the key."""
    for source in sources:
        if source.kind == "header":
            headers = without_header(headers, source.name)
        elif source.kind == "query":
            query_string = rebuilt_query(query_string, source.name)
        else:
            headers = envoy_without_cookie(headers, source.name)
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
    # Envoy's order: the client id is set first, then the credential removed from every source, so a
    # clientIdHeader that is also a key source header is removed too.
    if auth.client_id_header is not None:
        headers = with_header(headers, auth.client_id_header, client.encode("utf-8"))
    if not auth.forward_credential:
        headers, query_string = hide(auth.sources, headers, query_string)
        if _PATH_FORBIDDEN.intersection(query_string):  # a decoded control character Envoy cannot send upstream
            return DENY_UNFORWARDABLE_PATH
    return Allow(headers, query_string, client=client)
