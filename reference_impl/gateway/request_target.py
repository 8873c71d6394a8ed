"""The request target and Host, checked and normalised the way kgateway configures Envoy's connection manager.

kgateway sets `normalize_path: true` and `merge_slashes: true` and leaves `path_with_escaped_slashes_action` at
Envoy's default (keep `%2F` and `%5C` as they are). Envoy then routes on, and forwards, one path: RFC 3986 dot
segments removed, escapes of unreserved characters decoded, `\\` read as `/`, repeated slashes merged. The gateway
does the same, so the path it matches routes against is exactly the path the upstream receives. Every rule below
was checked against a real Envoy 1.40 with kgateway's settings (tests/envoy/test_envoy_hostile.py).
"""

from __future__ import annotations

import re

UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
HEX = frozenset(b"0123456789abcdefABCDEF")
# Characters Envoy's canonicaliser escapes when they appear raw in a path.
ESCAPED = {c: b"%%%02X" % c for c in b'"<>^`{|}'}
_DOTS = (b".", b"..")


def _segment(raw: bytes) -> bytes | None:
    """One path segment canonicalised: unreserved escapes decoded, others kept as sent; None for `%00`."""
    if b"%" not in raw and not any(c in ESCAPED for c in raw):
        return raw
    out = bytearray()
    invalid_percent = -1  # where the last '%' that began no valid escape was written
    i, n = 0, len(raw)
    while i < n:
        c = raw[i]
        if c == 0x25:  # '%'
            if i + 2 < n and raw[i + 1] in HEX and raw[i + 2] in HEX:
                value = int(raw[i + 1 : i + 3], 16)
                if value == 0:
                    return None
                if value in UNRESERVED:
                    out.append(value)
                    if 0 <= invalid_percent >= len(out) - 3 and _completes_escape(out, invalid_percent, raw, i + 3):
                        out[invalid_percent : invalid_percent + 1] = b"%25"
                else:
                    out += raw[i : i + 3]
                i += 3
                continue
            invalid_percent = len(out)
            out.append(c)
            i += 1
            continue
        escaped = ESCAPED.get(c)
        if escaped is not None:
            out += escaped
        else:
            out.append(c)
        i += 1
    return bytes(out)


def _completes_escape(out: bytearray, percent: int, raw: bytes, next_index: int) -> bool:
    """Whether a just-decoded character turned an earlier stray '%' into a valid escape (`%4%31` would read as
    `%41`). Envoy's canonicaliser escapes that '%' itself; when only one character follows it yet, the next input
    character is looked at too."""
    after = out[percent + 1 :]
    if len(after) == 1 and next_index < len(raw):
        after = after + raw[next_index : next_index + 1]
    return len(after) == 2 and after[0] in HEX and after[1] in HEX


def _dots_then_semicolon(part: bytes) -> bytes | None:
    """b"." or b".." when a `/`-delimited part is literal dots then `;` (`..;x`): Envoy's canonicaliser reads the
    whole part, up to the next `/`, as that dot segment. After a `\\` the same text is an ordinary segment."""
    for dots in _DOTS:
        if part.startswith(dots + b";"):
            return dots
    return None


def _segments(path: bytes) -> list[tuple[bytes, bool]]:
    """(raw segment, whether it is a `..;`-style dot segment) for every segment of the path after its first `/`."""
    found: list[tuple[bytes, bool]] = []
    for part in path[1:].split(b"/"):
        dots = _dots_then_semicolon(part)
        if dots is not None:
            found.append((dots, True))
        else:
            found.extend((segment, False) for segment in part.split(b"\\"))
    return found


def normalize_path(path: bytes) -> bytes | None:
    """The canonical form of an origin-form path (no query), or None when Envoy would answer 400."""
    if not path.startswith(b"/"):
        return None
    if not any(c in path for c in b'.%\\"<>^`{|}') and b"//" not in path:
        return path  # the common case: nothing to canonicalise
    segments = _segments(path)
    kept: list[bytes] = []
    for index, (raw, is_dots) in enumerate(segments):
        canonical = raw if is_dots else _segment(raw)
        if canonical is None:
            return None
        if canonical not in _DOTS:  # escaped dots count as the whole segment: `.%2e` is `..`
            kept.append(canonical)
            continue
        if canonical == b".." and kept:
            kept.pop()
        if index == len(segments) - 1:
            kept.append(b"")  # `/a/b/..` is `/a/`: a trailing dot segment leaves a trailing slash
    return _merge_slashes(b"/" + b"/".join(kept))


def _merge_slashes(path: bytes) -> bytes:
    """Envoy's merge: the non-empty segments joined by one slash, keeping a leading and a trailing one (so a path
    of slashes only, like `//`, stays `//`)."""
    if b"//" not in path:
        return path
    suffix = b"/" if path.endswith(b"/") else b""
    return b"/" + b"/".join(segment for segment in path.split(b"/") if segment) + suffix


# Host: what Envoy's HTTP/1 codec accepts. Whitespace, '/', '\\', '?', '#' and bytes outside visible ASCII are
# rejected with 400; anything else (even `user@host`) is accepted and simply matches no named host.
_BAD_HOST = re.compile(rb"[^\x21-\x7e]|[/\\?#]")


def host_problem(value: bytes) -> str | None:
    if _BAD_HOST.search(value):
        return "invalid Host header"
    return None
