"""Credential index: keys are held only as SHA-256 digests, looked up in O(1)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")


def digest(key: str | bytes) -> bytes:
    return hashlib.sha256(key.encode("utf-8") if isinstance(key, str) else key).digest()


@dataclass(frozen=True, slots=True)
class KeyIndex(Generic[T]):
    """Maps a key's SHA-256 digest to what the key identifies (a client name, or an identity with metadata).

    Only digests are stored, so the index can be shown, logged or pickled without exposing a key. The
    lookup compares digests, never key bytes, so its timing says nothing useful about any stored key, and
    its cost does not grow with the number of keys.
    """

    by_digest: Mapping[bytes, T] = field(default_factory=dict)

    def lookup(self, key: bytes) -> T | None:
        return self.by_digest.get(hashlib.sha256(key).digest())

    def __len__(self) -> int:
        return len(self.by_digest)


@dataclass(frozen=True, slots=True)
class Identity:
    """An agentgateway key's identity: the entry it came from and its metadata."""

    source: str  # "Secret ns/name" or "ConfigMap ns/name"
    entry: str
    metadata: Mapping[str, Any] = field(default_factory=dict)
