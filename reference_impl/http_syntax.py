"""HTTP field syntax (RFC 9110 section 5): what may be a header name and what may be in a header value."""

from __future__ import annotations

import re

# A field name is a token: visible ASCII except separators.
TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
# Bytes that can never appear in a field value on the wire: they would end the field or the head.
FORBIDDEN_IN_VALUE = re.compile(r"[\x00\r\n]")


def is_token(name: str) -> bool:
    return TOKEN.match(name) is not None


def header_name_problem(name: str) -> str | None:
    """Why `name` cannot be an HTTP header name, or None."""
    if is_token(name):
        return None
    return f"{name!r} is not a valid HTTP header name (letters, digits and !#$%&'*+-.^_`|~ only)"


def header_value_problem(value: str) -> str | None:
    """Why `value` cannot be sent as an HTTP header value, or None. Values are sent UTF-8 encoded."""
    if FORBIDDEN_IN_VALUE.search(value):
        return "must not contain CR, LF or NUL characters"
    return None
