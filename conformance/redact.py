"""Every API key the harness handles is registered here and replaced by a marker in anything it publishes.

A key travels in more forms than the one written in a Secret: percent-encoded in a query (`%20` or `+` for a
space, upper- or lower-case hex), base64 in a Secret's `data` or a header, base64url, escaped inside a JSON
string (httpbin's echo, allure's result files), quoted in a cookie, escaped in HTML (notebook outputs) or in a
Python repr (failure messages). `key_forms` lists them all; `Redactor.redact` removes every one.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import logging
import re
import threading
from collections.abc import Callable, Iterable
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

from ahocorasick_rs import AhoCorasick, MatchKind

from reference_impl.compile.gojson import fold_name

MARKER = "[REDACTED]"
# The `"key": "..."` member of an agentgateway JSON entry, found by text where the entry does not parse.
_QUOTED_KEY = re.compile(r'"key"\s*:\s*"((?:[^"\\]|\\.)*)"', re.IGNORECASE)  # Go matches names by case


def _json_string(escaped: str) -> str:
    try:
        return str(json.loads(f'"{escaped}"'))
    except ValueError:
        return escaped


def _lower_hex(encoded: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda match: match.group().lower(), encoded)


def _cookie_quoted(value: str) -> str:
    """The value as a cookie carries it: quoted, with backslash escapes, when it has characters a token cannot."""
    cookie: SimpleCookie = SimpleCookie()
    cookie["k"] = value
    return cookie["k"].coded_value


def key_forms(key: str) -> set[str]:
    """Every form in which `key` can appear in text the harness publishes, also escaped once more (a failure
    message quotes the repr of a JSON echo, a JSON result file holds an escaped attachment...)."""
    forms = _direct_forms(key)
    forms |= {repr(form)[1:-1] for form in forms} | {json.dumps(form)[1:-1] for form in forms}
    return {form for form in forms if form}


def _direct_forms(key: str) -> set[str]:
    raw = key.encode("utf-8")
    forms = {key}
    for safe in ("", "/"):  # urllib's default keeps '/'; form encoding escapes it
        for encoded in (quote(key, safe=safe), quote_plus(key, safe=safe)):
            forms |= {encoded, _lower_hex(encoded)}
    for encoded in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
        text = encoded.decode("ascii")
        forms |= {text, text.rstrip("=")}
    forms |= {json.dumps(key)[1:-1], json.dumps(key, ensure_ascii=False)[1:-1]}
    forms |= {html.escape(key), html.escape(key, quote=False), repr(key)[1:-1], _cookie_quoted(key)}
    return forms


class Redactor:
    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._hashes: set[str] = set()  # hex SHA-256 of keys stored only as agentgateway keyHash
        self._lock = threading.Lock()
        self._matcher: AhoCorasick | None = None

    def add(self, value: str) -> None:
        """Register a key: the value as given and stripped (a key read from a file may end in a newline)."""
        forms: set[str] = set()
        for candidate in {value, value.strip()}:
            if candidate.strip():
                forms |= key_forms(candidate)
        self._extend(forms)

    def add_literal(self, value: str) -> None:
        """Register one exact string (e.g. a Secret's base64 `data` value) without deriving other forms."""
        if value:
            self._extend({value})

    def _extend(self, forms: set[str]) -> None:
        with self._lock:
            if not forms <= self._secrets:
                self._secrets |= forms
                self._matcher = None

    def add_manifests(self, manifests: Iterable[dict[str, Any]]) -> None:
        """Register every Secret value (plain, base64, the `key` of JSON entries) and every `keyHash`."""
        for manifest in manifests:
            if not isinstance(manifest, dict) or manifest.get("kind") not in ("Secret", "ConfigMap"):
                continue
            values = [str(v) for v in (manifest.get("stringData") or {}).values()]
            if manifest["kind"] == "ConfigMap":
                values = [str(v) for v in (manifest.get("data") or {}).values()]
            else:
                for encoded in (manifest.get("data") or {}).values():
                    try:
                        values.append(base64.b64decode(str(encoded)).decode("utf-8", "replace"))
                    except ValueError:
                        continue
                    self.add_literal(str(encoded))
            for value in values:
                if value.strip().startswith("{"):
                    self._add_json_entry(value)
                else:
                    self.add(value)  # a raw key, even one wrongly kept in a ConfigMap

    def _add_json_entry(self, value: str) -> None:
        try:
            pairs = json.loads(value, object_pairs_hook=list)
        except ValueError:
            pairs = None
        if not isinstance(pairs, list) or not all(isinstance(p, tuple) for p in pairs):
            # An entry the gateway refuses (a typo in its JSON) may still hold a real key: register what it holds.
            self._add_entry_text(value)
            for quoted in _QUOTED_KEY.findall(value):
                self.add(_json_string(quoted))
            return
        # agentgateway decodes entries with Go's json: field names match case-insensitively (`"KEY"` is `key`).
        for name, field_value in pairs:
            if fold_name(name) == "KEY" and not isinstance(field_value, str) and field_value is not None:
                self._add_entry_text(value)  # refused (`"key": ["..."]`), yet what it holds may be a key
            if fold_name(name) == "KEY" and isinstance(field_value, str):
                self.add(field_value)
                self.add_literal(value)  # the whole entry, as a JSON-escaped Secret value shows it
                self.add(value)
            if fold_name(name) == "KEYHASH" and isinstance(field_value, str) and field_value.startswith("sha256:"):
                with self._lock:
                    self._hashes.add(field_value.removeprefix("sha256:").lower())

    def _add_entry_text(self, value: str) -> None:
        """A whole entry, only as written and JSON-escaped: its derived forms (a quoted cookie value) could match
        a whole JSON string in a report, quotes included, and break the file."""
        self.add_literal(value)
        self.add_literal(json.dumps(value)[1:-1])

    def add_if_hashed_key(self, value: str) -> None:
        """A presented credential whose SHA-256 matches a stored keyHash is a real key: redact it too."""
        for candidate in {value, value.strip()}:
            if hashlib.sha256(candidate.encode("utf-8")).hexdigest() in self._hashes:
                self.add(candidate)

    def add_presented(self, values: Iterable[str]) -> None:
        """A request's header, query and cookie values: each one, or what follows a scheme (`Bearer <key>`), that
        a stored keyHash matches is a real key."""
        for value in values:
            for candidate in {value, value.partition(" ")[2]}:
                if candidate:
                    self.add_if_hashed_key(candidate)

    @property
    def secrets(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._secrets)

    def _compiled(self) -> AhoCorasick | None:
        with self._lock:
            if self._matcher is None and self._secrets:
                # One automaton for every form of every key, rebuilt when keys are added: a regular expression
                # of thousands of alternatives took tens of milliseconds to compile, once per scenario.
                self._matcher = AhoCorasick(sorted(self._secrets), matchkind=MatchKind.LeftmostLongest)
            return self._matcher

    def redact(self, text: str) -> str:
        """`text` with every registered form replaced by the marker. At each position the longest form wins, so
        a key's base64 form is not half-replaced by a shorter key inside it."""
        matcher = self._compiled()
        if matcher is None:
            return text
        matches = matcher.find_matches_as_indexes(text)
        if not matches:
            return text
        parts, last = [], 0
        for _, start, end in matches:
            parts += (text[last:start], MARKER)
            last = end
        parts.append(text[last:])
        return "".join(parts)

    def redact_tree(self, folder: Path) -> int:
        """Rewrite every file under `folder` with keys redacted; returns how many files changed."""
        changed = 0
        if not folder.is_dir():
            return 0
        for path in folder.rglob("*"):
            if not path.is_file():
                continue
            try:
                text = path.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue
            cleaned = self.redact(text)
            if cleaned != text:
                path.write_text(cleaned, encoding="utf-8")
                changed += 1
        return changed


# One per process: scenarios, attachments, the report and the allure pass all share it.
REDACTOR = Redactor()


def excerpt(text: str, limit: int = 200) -> str:
    """The repr of the start of `text` for a failure message, redacted *before* it is cut: a cut never leaves
    half a key behind."""
    return repr(REDACTOR.redact(text)[:limit])


def redact_log_records() -> Callable[[], None]:
    """Redact every log record this process creates (the gateway's, urllib3's, ours) before any handler, pytest's
    capture or allure sees it. Returns a function that restores the previous record factory."""
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed call: leave it to logging to report
            return record
        cleaned = REDACTOR.redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return record

    logging.setLogRecordFactory(factory)
    return lambda: logging.setLogRecordFactory(previous)
