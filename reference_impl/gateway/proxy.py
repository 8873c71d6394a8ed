"""Forwarding to upstreams over one pooled aiohttp session, streaming both ways."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from yarl import URL

from reference_impl.auth.decision import Headers

Scope = dict[str, Any]

# RFC 9110 section 7.6.1 connection-specific fields, plus the legacy ones proxies still strip.
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
BODYLESS_METHODS = frozenset({"GET", "HEAD", "DELETE", "OPTIONS", "TRACE"})


def strip_hop_by_hop(headers: Headers) -> Headers:
    """Remove hop-by-hop headers and any header the Connection header names."""
    named = {
        token.strip().lower()
        for key, value in headers
        if key == b"connection"
        for token in value.split(b",")
        if token.strip()
    }
    return [(k, v) for k, v in headers if k not in HOP_BY_HOP and k not in named]


def forwarded_headers(headers: Headers, client: tuple[str, int] | None, scheme: str) -> Headers:
    """Append the peer to X-Forwarded-For and set X-Forwarded-Proto, as an edge proxy does."""
    prior = [v for k, v in headers if k == b"x-forwarded-for"]
    peer = (client[0] if client else "unknown").encode("latin-1")
    chain = b", ".join([*prior, peer])
    kept = [(k, v) for k, v in headers if k not in (b"x-forwarded-for", b"x-forwarded-proto")]
    return [*kept, (b"x-forwarded-for", chain), (b"x-forwarded-proto", scheme.encode("latin-1"))]


class UpstreamError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Proxy:
    """One aiohttp session per event loop, created lazily, with keep-alive pooling to every upstream."""

    def __init__(self, *, connect_timeout: float = 5.0, read_timeout: float = 60.0, pool_size: int = 256) -> None:
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.pool_size = pool_size
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.pool_size, ttl_dns_cache=300),
                timeout=aiohttp.ClientTimeout(total=None, connect=self.connect_timeout, sock_read=self.read_timeout),
                auto_decompress=False,  # pass bodies through byte for byte
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
                cookie_jar=aiohttp.DummyCookieJar(),  # never keep upstream cookies between clients
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def forward(
        self,
        scope: Scope,
        receive: Any,
        send: Any,
        *,
        base_url: str,
        headers: Headers,
        query_string: bytes,
    ) -> int:
        """Send the request upstream and stream the response back. Returns the status sent to the client."""
        raw_path = scope.get("raw_path") or scope["path"].encode("utf-8")
        target = base_url + raw_path.decode("latin-1")
        if query_string:
            target += "?" + query_string.decode("latin-1")
        method = scope["method"]
        upstream_headers = forwarded_headers(
            strip_hop_by_hop(headers), scope.get("client"), scope.get("scheme", "http")
        )
        has_body = method not in BODYLESS_METHODS or any(
            k in (b"content-length", b"transfer-encoding") for k, _ in headers
        )
        body = _request_body(receive) if has_body else None
        session = self._get_session()
        try:
            response = await session.request(
                method,
                URL(target, encoded=True),  # forward the path exactly as received: no normalisation
                headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in upstream_headers],
                data=body,
                allow_redirects=False,
            )
        except aiohttp.ClientConnectorError as error:
            raise UpstreamError(503, f"upstream connect error: {error.os_error or error}") from None
        except (TimeoutError, aiohttp.ServerTimeoutError):
            raise UpstreamError(504, "upstream request timeout") from None
        except aiohttp.ClientError as error:
            raise UpstreamError(502, f"upstream protocol error: {type(error).__name__}") from None

        async with response:
            # Also drop the headers the upstream's Connection header names (RFC 9110 section 7.6.1).
            response_headers = strip_hop_by_hop([(k.lower(), v) for k, v in response.raw_headers])
            await send({"type": "http.response.start", "status": response.status, "headers": response_headers})
            try:
                async for chunk in response.content.iter_any():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            except (TimeoutError, aiohttp.ClientError):
                # Headers are gone already. Returning without ending the body makes the server close the
                # connection, so the client sees a short read; ending it would make a truncated chunked body
                # look complete (and a Content-Length body raise in the server).
                return response.status
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return response.status


async def _request_body(receive: Any) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        chunk = message.get("body", b"")
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return
