"""Reading and removing credentials in headers, query strings and cookies. Shared by both dialects."""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from reference_impl.auth.decision import Headers


def first_header(headers: Headers, name: bytes) -> bytes | None:
    """The first value of a header; `name` must be lower-case (ASGI names are)."""
    for key, value in headers:
        if key == name:
            return value
    return None


def without_header(headers: Headers, name: bytes) -> Headers:
    return [(k, v) for k, v in headers if k != name]


def with_header(headers: Headers, name: bytes, value: bytes) -> Headers:
    """Set a header, overwriting every value the client sent."""
    return [*without_header(headers, name), (name, value)]


def _query_pairs(query_string: bytes) -> list[tuple[bytes, bytes, bytes]]:
    """(raw segment, decoded name, decoded value) for each `&`-separated segment."""
    pairs = []
    for segment in query_string.split(b"&"):
        if not segment:
            continue
        name, _, value = segment.partition(b"=")
        pairs.append((segment, unquote_to_bytes(name), unquote_to_bytes(value)))
    return pairs


def first_query_param(query_string: bytes, name: bytes) -> bytes | None:
    """The first occurrence of a query parameter, percent-decoded."""
    if not query_string:
        return None
    for _, key, value in _query_pairs(query_string):
        if key == name:
            return value
    return None


def without_query_param(query_string: bytes, name: bytes) -> bytes:
    """Drop every occurrence of `name`; other parameters keep their order and original encoding."""
    if not query_string:
        return query_string
    return b"&".join(raw for raw, key, _ in _query_pairs(query_string) if key != name)


def _cookie_pairs(header_value: bytes) -> list[tuple[bytes, bytes]]:
    pairs = []
    for part in header_value.split(b";"):
        name, sep, value = part.strip().partition(b"=")
        if sep:
            pairs.append((name.strip(), value.strip()))
    return pairs


def cookie_value(headers: Headers, name: bytes) -> bytes | None:
    """A cookie's value across all Cookie headers; one pair of surrounding double quotes is removed."""
    for key, header_value in headers:
        if key != b"cookie":
            continue
        for cookie, value in _cookie_pairs(header_value):
            if cookie == name:
                if len(value) >= 2 and value[:1] == b'"' and value[-1:] == b'"':
                    return value[1:-1]
                return value
    return None


def envoy_cookie_value(headers: Headers, name: bytes) -> bytes | None:
    """A cookie as Envoy reads it (Http::Utility::parseCookieValue): `;`-separated pieces, leading spaces skipped,
    the name is everything up to `=` (so `k =v` is a cookie named `k `), the value everything after it, one pair
    of surrounding double quotes removed; pieces without `=` are not cookies."""
    for key, line in headers:
        if key != b"cookie":
            continue
        for piece in line.split(b";"):
            cookie, sep, value = piece.lstrip(b" ").partition(b"=")
            if sep and cookie == name:
                return value[1:-1] if len(value) >= 2 and value[:1] == value[-1:] == b'"' else value
    return None


def envoy_without_cookie(headers: Headers, name: bytes) -> Headers:
    """Envoy's removal of a cookie (Http::Utility::removeCookieValue): every Cookie line merged into one, at the
    end, the named cookie and pieces without `=` dropped, one pair of quotes around a value removed; no Cookie
    header when nothing is left."""
    kept: list[bytes] = []
    others: Headers = []
    for key, line in headers:
        if key != b"cookie":
            others.append((key, line))
            continue
        for piece in line.split(b";"):
            cookie, sep, value = piece.lstrip(b" ").partition(b"=")
            if sep and cookie != name:
                quoted = len(value) >= 2 and value[:1] == value[-1:] == b'"'
                kept.append(cookie + b"=" + (value[1:-1] if quoted else value))
    return [*others, (b"cookie", b"; ".join(kept))] if kept else others


def without_cookie(headers: Headers, name: bytes) -> Headers:
    """Remove a cookie, keep the others; a Cookie header left empty is dropped."""
    rebuilt: Headers = []
    for key, header_value in headers:
        if key != b"cookie":
            rebuilt.append((key, header_value))
            continue
        kept = [(c, v) for c, v in _cookie_pairs(header_value) if c != name]
        if kept:
            rebuilt.append((key, b"; ".join(c + b"=" + v for c, v in kept)))
    return rebuilt
