"""Key lifecycle helpers: strong random keys and the Secret / ConfigMap manifests that carry them."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Mapping, Sequence

import yaml

from reference_impl.resources.core import CONFIG_KEY


def generate_key(nbytes: int = 32) -> str:
    """A URL-safe random key with `nbytes` bytes of entropy (32 bytes = 256 bits)."""
    if nbytes < 16:
        raise ValueError(f"--bytes {nbytes}: an API key needs at least 16 bytes (128 bits) of entropy")
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
    """One fresh key per client id; each id must be usable as a Secret entry name."""
    seen: set[str] = set()
    for client in clients:
        if client in seen:
            raise ValueError(f"client id {client!r} is given twice; client ids must be unique")
        if not CONFIG_KEY.match(client) or len(client) > 253:
            raise ValueError(
                f"client id {client!r} cannot be a Secret entry name: use letters, digits, '-', '_' or '.' "
                "(at most 253 characters)"
            )
        seen.add(client)
    return {client: generate_key(nbytes) for client in clients}


def key_listing(keys: Mapping[str, str]) -> str:
    """The plain keys, once, for the person who will hand them out: they are not shown again."""
    width = max(len(client) for client in keys)
    lines = [f"API keys ({len(keys)}): give each client its key now; they are not shown again.", ""]
    lines += [f"{client.ljust(width)}  {key}" for client, key in keys.items()]
    return "\n".join(lines) + "\n"


def to_yaml(*manifests: dict) -> str:
    return yaml.safe_dump_all(manifests, sort_keys=False)
