"""agentgateway's `apiKeyAuthentication` at request time: locations and Strict / Optional / Permissive."""

from __future__ import annotations

from dataclasses import dataclass

from reference_impl.auth.decision import Allow, Deny, RequestParts
from reference_impl.auth.extract import (
    cookie_value,
    first_header,
    first_query_param,
    without_cookie,
    without_header,
    without_query_param,
)
from reference_impl.auth.keys import Identity, KeyIndex

MISSING_BODY = b"api key authentication failure: no API Key found"
INVALID_BODY = b"api key authentication failure: invalid credentials"


@dataclass(frozen=True, slots=True)
class Location:
    kind: str  # header | query | cookie
    name: bytes  # header names lower-cased
    prefix: bytes | None = None  # header only; matched ASCII case-insensitively


DEFAULT_LOCATION = Location("header", b"authorization", b"Bearer ")


@dataclass(frozen=True, slots=True)
class AgentgatewayAuth:
    mode: str  # Strict | Optional | Permissive
    location: Location
    keys: KeyIndex[Identity]
    policy: str  # "ns/name"


DENY_MISSING = Deny(401, MISSING_BODY, "missing")
DENY_INVALID = Deny(401, INVALID_BODY, "invalid")


def extract(location: Location, request: RequestParts) -> bytes | None:
    """The presented key, or None when absent. A header lacking the configured prefix counts as absent."""
    if location.kind == "header":
        value = first_header(request.headers, location.name)
        if value is None or location.prefix is None:
            return value
        size = len(location.prefix)
        if value[:size].lower() != location.prefix.lower():
            return None
        return value[size:]
    if location.kind == "query":
        return first_query_param(request.query_string, location.name)
    return cookie_value(request.headers, location.name)


def decide(auth: AgentgatewayAuth, request: RequestParts) -> Allow | Deny:
    key = extract(auth.location, request)
    if key is None:
        if auth.mode == "Strict":
            return DENY_MISSING
        return Allow(request.headers, request.query_string, outcome="anonymous")
    identity = auth.keys.lookup(key)
    if identity is None:
        if auth.mode == "Permissive":
            return Allow(request.headers, request.query_string, outcome="permissive-invalid")
        return DENY_INVALID
    headers, query_string = request.headers, request.query_string
    location = auth.location
    if location.kind == "header":
        headers = without_header(headers, location.name)
    elif location.kind == "query":
        query_string = without_query_param(query_string, location.name)
    else:
        headers = without_cookie(headers, location.name)
    return Allow(headers, query_string, client=identity.entry, metadata=identity.metadata)
