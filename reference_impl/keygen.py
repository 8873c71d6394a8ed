"""Key lifecycle helpers: strong random keys and the Secret / ConfigMap manifests that carry them."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Mapping, Sequence

import yaml


def generate_key(nbytes: int = 32) -> str:
    """A URL-safe random key with `nbytes` bytes of entropy (32 bytes = 256 bits)."""
    if nbytes < 16:
        raise ValueError("nbytes: at least 16 bytes of entropy are required for an API key")
    return secrets.token_urlsafe(nbytes)


def key_hash(key: str) -> str:
    """agentgateway's `keyHash` form: "sha256:<hex digest>"."""
    return "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()


def secret_manifest(
    name: str,
    namespace: str,
    keys: Mapping[str, str],
    *,
    labels: Mapping[str, str] | None = None,
    metadata: Mapping[str, Mapping[str, object]] | None = None,
) -> dict:
    """A Secret with one entry per client. With `metadata`, entries use agentgateway's JSON form."""
    data = {}
    for client, key in keys.items():
        value = json.dumps({"key": key, "metadata": dict(metadata[client])}) if metadata and client in metadata else key
        data[client] = base64.b64encode(value.encode("utf-8")).decode("ascii")
    manifest: dict = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": "Opaque",
        "data": data,
    }
    if labels:
        manifest["metadata"]["labels"] = dict(labels)
    return manifest


def hashed_config_map(
    name: str,
    namespace: str,
    keys: Mapping[str, str],
    *,
    labels: Mapping[str, str] | None = None,
    metadata: Mapping[str, Mapping[str, object]] | None = None,
) -> dict:
    """An agentgateway ConfigMap holding only key hashes, safe to keep where Secrets are not required."""
    data = {
        client: json.dumps(
            {
                "keyHash": key_hash(key),
                **({"metadata": dict(metadata[client])} if metadata and client in metadata else {}),
            }
        )
        for client, key in keys.items()
    }
    manifest: dict = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": data,
    }
    if labels:
        manifest["metadata"]["labels"] = dict(labels)
    return manifest


def issue_keys(clients: Sequence[str], nbytes: int = 32) -> dict[str, str]:
    """One fresh key per client id."""
    if len(set(clients)) != len(clients):
        raise ValueError("clients: client ids must be unique")
    return {client: generate_key(nbytes) for client in clients}


def to_yaml(*manifests: dict) -> str:
    return yaml.safe_dump_all(manifests, sort_keys=False)
