"""Manifests as the API server stores them."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any


def string_data_merged(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """A Secret with its `stringData` merged over `data`, base64-encoded, as the API server stores it; any other
    manifest as it is. Applied this way, server-side apply owns each `data` entry, so an entry a later manifest
    leaves out is removed (applied as `stringData`, it would stay in `data` for ever)."""
    if manifest.get("kind") != "Secret" or not isinstance(manifest.get("stringData"), Mapping):
        return dict(manifest)
    stored = {k: v for k, v in manifest.items() if k != "stringData"}
    data = dict(manifest.get("data") or {})
    for name, value in manifest["stringData"].items():
        data[name] = base64.b64encode(str(value).encode("utf-8")).decode("ascii")
    stored["data"] = data
    return stored
