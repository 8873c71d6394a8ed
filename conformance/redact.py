"""Every API key the harness handles is registered here and replaced by a marker in anything it publishes."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

MARKER = "[REDACTED]"


class Redactor:
    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._hashes: set[str] = set()  # hex SHA-256 of keys stored only as agentgateway keyHash
        self._lock = threading.Lock()

    def add(self, value: str) -> None:
        value = value.strip()
        if not value:
            return
        forms = {value, base64.b64encode(value.encode("utf-8")).decode("ascii")}
        with self._lock:
            self._secrets |= forms

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
            document = json.loads(value)
        except ValueError:
            return
        if not isinstance(document, dict):
            return
        if isinstance(document.get("key"), str):
            self.add(document["key"])
        key_hash = document.get("keyHash")
        if isinstance(key_hash, str) and key_hash.startswith("sha256:"):
            with self._lock:
                self._hashes.add(key_hash.removeprefix("sha256:").lower())

    def add_if_hashed_key(self, value: str) -> None:
        """A presented credential whose SHA-256 matches a stored keyHash is a real key: redact it too."""
        for candidate in {value, value.strip()}:
            if hashlib.sha256(candidate.encode("utf-8")).hexdigest() in self._hashes:
                self.add(candidate)

    def add_literal(self, value: str) -> None:
        if value:
            with self._lock:
                self._secrets.add(value)

    @property
    def secrets(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._secrets)

    def redact(self, text: str) -> str:
        for secret in sorted(self.secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, MARKER)
        return text

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
