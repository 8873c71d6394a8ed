"""JSON read the way Go's `encoding/json` reads it, with its error messages, for agentgateway's Secret entries.

agentgateway's controller is Go: a JSON key entry is `json.Unmarshal`ed into a struct. What that accepts and the
error text it produces are part of the policy status, so they are reproduced here: the syntax check runs first
(`invalid character 'x' after object key`, `unexpected end of JSON input`), then fields are matched exactly or
case-insensitively (Go's folding), unknown fields are ignored, the last duplicate wins, and a value of the wrong
type reads `json: cannot unmarshal number into Go struct field <Struct>.<field> of type string`.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

_WHITESPACE = b" \t\r\n"
_ESCAPES = frozenset(b'bfnrt\\/"')
_HEX = frozenset(b"0123456789abcdefABCDEF")
_DIGITS = frozenset(b"0123456789")
_GO_ESCAPES = {7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r", 0x5C: "\\\\"}
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# bytes.TrimSpace: ASCII whitespace and Unicode White_Space.
_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000"


class _Pairs(list):
    """A JSON object's (key, value) pairs in order, duplicates kept, as Go's decoder walks them."""


class GoJSONError(ValueError):
    """The error Go's decoder would return; its text is Go's."""


def trim_space(data: bytes) -> bytes:
    """Go's bytes.TrimSpace (leading and trailing ASCII and Unicode white space)."""
    text = data.decode("utf-8", errors="surrogateescape")
    return text.strip(_GO_SPACE).encode("utf-8", errors="surrogateescape")


def _go_isprint(char: str) -> bool:
    return char == " " or unicodedata.category(char)[0] in "LMNPS"


def quote_char(byte: int) -> str:
    """Go's scanner quoteChar: how a byte is shown in `invalid character ...`."""
    if byte == 0x27:
        return "'\\''"
    if byte == 0x22:
        return "'\"'"
    if byte in _GO_ESCAPES:
        return f"'{_GO_ESCAPES[byte]}'"
    char = chr(byte)  # Go's string(byte) reads the byte as a rune
    if byte < 0x80:
        return f"'{char}'" if 0x20 <= byte < 0x7F else f"'\\x{byte:02x}'"
    return f"'{char}'" if _go_isprint(char) else f"'\\u{byte:04x}'"


def go_rune(char: str) -> str:
    """Go's %#U: `U+0067 'g'` (the quoted character only when printable)."""
    code = ord(char)
    return f"U+{code:04X} '{char}'" if _go_isprint(char) else f"U+{code:04X}"


class _Scanner:
    """Go's syntax check (checkValid): the first error, worded as Go's scanner words it."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.i = 0

    def fail(self, context: str) -> GoJSONError:
        if self.i >= len(self.data):
            return GoJSONError("unexpected end of JSON input")
        return GoJSONError(f"invalid character {quote_char(self.data[self.i])} {context}")

    def peek(self) -> int | None:
        return self.data[self.i] if self.i < len(self.data) else None

    def skip_space(self) -> None:
        while self.i < len(self.data) and self.data[self.i] in _WHITESPACE:
            self.i += 1

    def check(self) -> None:
        self.value()
        self.skip_space()
        if self.i < len(self.data):
            raise self.fail("after top-level value")

    def value(self) -> None:
        self.skip_space()
        c = self.peek()
        if c == ord("{"):
            self.obj()
        elif c == ord("["):
            self.array()
        elif c == ord('"'):
            self.string()
        elif c == ord("-") or (c is not None and c in _DIGITS):
            self.number()
        elif c in (ord("t"), ord("f"), ord("n")):
            self.literal({ord("t"): "true", ord("f"): "false", ord("n"): "null"}[c])
        else:
            raise self.fail("looking for beginning of value")

    def obj(self) -> None:
        self.i += 1
        self.skip_space()
        if self.peek() == ord("}"):
            self.i += 1
            return
        while True:
            self.skip_space()
            if self.peek() != ord('"'):
                raise self.fail("looking for beginning of object key string")
            self.string()
            self.skip_space()
            if self.peek() != ord(":"):
                raise self.fail("after object key")
            self.i += 1
            self.value()
            self.skip_space()
            if self.peek() == ord(","):
                self.i += 1
                continue
            if self.peek() == ord("}"):
                self.i += 1
                return
            raise self.fail("after object key:value pair")

    def array(self) -> None:
        self.i += 1
        self.skip_space()
        if self.peek() == ord("]"):
            self.i += 1
            return
        while True:
            self.value()
            self.skip_space()
            if self.peek() == ord(","):
                self.i += 1
                continue
            if self.peek() == ord("]"):
                self.i += 1
                return
            raise self.fail("after array element")

    def string(self) -> None:
        self.i += 1
        while (c := self.peek()) is not None:
            if c == ord('"'):
                self.i += 1
                return
            if c < 0x20:
                raise self.fail("in string literal")
            self.i += 1
            if c == ord("\\"):
                c = self.peek()
                if c is not None and c == ord("u"):
                    self.i += 1
                    for _ in range(4):
                        if self.peek() is None or self.peek() not in _HEX:
                            raise self.fail("in \\u hexadecimal character escape")
                        self.i += 1
                elif c is None or c not in _ESCAPES:
                    raise self.fail("in string escape code")
                else:
                    self.i += 1
        raise self.fail("")

    def digits(self) -> None:
        while self.peek() is not None and self.peek() in _DIGITS:
            self.i += 1

    def number(self) -> None:
        if self.peek() == ord("-"):
            self.i += 1
            if self.peek() is None or self.peek() not in _DIGITS:
                raise self.fail("in numeric literal")
        if self.peek() == ord("0"):
            self.i += 1
        else:
            self.digits()
        if self.peek() == ord("."):
            self.i += 1
            if self.peek() is None or self.peek() not in _DIGITS:
                raise self.fail("after decimal point in numeric literal")
            self.digits()
        if self.peek() in (ord("e"), ord("E")):
            self.i += 1
            if self.peek() in (ord("+"), ord("-")):
                self.i += 1
            if self.peek() is None or self.peek() not in _DIGITS:
                raise self.fail("in exponent of numeric literal")
            self.digits()

    def literal(self, word: str) -> None:
        self.i += 1
        for expected in word[1:]:
            if self.peek() != ord(expected):
                raise self.fail(f"in literal {word} (expecting '{expected}')")
            self.i += 1


def fold_name(name: str) -> str:
    """Go's foldName: ASCII upper-cased, other runes replaced by the smallest rune of their case-fold set."""
    folded = []
    for char in name:
        candidates = [c for c in (char, char.lower(), char.upper()) if len(c) == 1]
        smallest = min(candidates, key=ord)
        folded.append(smallest.upper() if smallest.isascii() else smallest)
    return "".join(folded)


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, _Pairs | dict):
        return "object"
    return "array" if isinstance(value, list) else "string"


def _clean(text: str) -> str:
    return _LONE_SURROGATE.sub("\ufffd", text)


def unmarshal_struct(data: bytes, struct: str, fields: Mapping[str, str]) -> dict[str, Any]:
    """`json.Unmarshal(data, &v)` for a struct whose JSON fields are `fields` (name -> "string" or "raw", a
    json.RawMessage). Returns the set fields: a string, or a RawMessage as the decoded JSON value (None for an
    explicit null). Raises GoJSONError with Go's message."""
    _Scanner(data).check()
    document = json.loads(data.decode("utf-8", errors="replace"), object_pairs_hook=_Pairs)
    if not isinstance(document, _Pairs):
        raise GoJSONError(f"json: cannot unmarshal {_json_type(document)} into Go value of type {struct}")
    by_fold = {fold_name(name): name for name in fields}
    found: dict[str, Any] = {}
    first_error: GoJSONError | None = None
    for key, value in document:
        name = key if key in fields else by_fold.get(fold_name(key))
        if name is None:
            continue  # unknown fields are ignored
        if fields[name] == "raw":
            found[name] = _plain(value)
        elif value is None:
            continue  # null leaves a string unchanged
        elif isinstance(value, str):
            found[name] = _clean(value)
        elif first_error is None:
            first_error = GoJSONError(
                f"json: cannot unmarshal {_json_type(value)} into Go struct field {struct}.{name} of type string"
            )
    if first_error is not None:
        raise first_error
    return found


def _plain(value: Any) -> Any:
    """A decoded value with objects as plain dicts (the last duplicate key wins, as in Go)."""
    if isinstance(value, _Pairs):
        return {_clean(k): _plain(v) for k, v in value}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return _clean(value) if isinstance(value, str) else value


def struct_value(raw: Any, present: bool) -> dict[str, Any]:
    """A json.RawMessage turned into a protobuf Struct as the legacy jsonpb unmarshaler does: absent or null is
    an empty Struct; anything but an object is an error."""
    if not present or raw is None:
        return {}
    if isinstance(raw, dict):
        return raw
    raise GoJSONError(
        f"bad StructValue: json: cannot unmarshal {_json_type(raw)} into Go value of type map[string]json.RawMessage"
    )
