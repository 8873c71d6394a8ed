"""What a decision takes and returns. Headers are ASGI-style: lower-case byte names, byte values."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

Headers: TypeAlias = list[tuple[bytes, bytes]]


@dataclass(frozen=True, slots=True)
class RequestParts:
    headers: Headers
    query_string: bytes = b""


@dataclass(frozen=True, slots=True)
class Allow:
    """Forward the request with these (possibly rewritten) headers and query string."""

    headers: Headers
    query_string: bytes
    client: str | None = None  # kgateway client id / agentgateway key entry name
    metadata: Mapping[str, Any] | None = None
    outcome: str = "allowed"  # allowed | anonymous | permissive-invalid


@dataclass(frozen=True, slots=True)
class Deny:
    status: int
    body: bytes
    reason: str  # missing | invalid | invalid-policy
    content_type: bytes = b"text/plain"
    extra_headers: Headers = field(default_factory=list)


Decision: TypeAlias = Allow | Deny
