"""Core v1 kinds as admitted: Secret (its `stringData` already merged into base64 `data`) and ConfigMap."""

from __future__ import annotations

import base64
import re

from pydantic import Field

from reference_impl.resources.meta import Model, ObjectMeta

# The API server's rule for data keys (IsConfigMapKey).
CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")


class Secret(Model):
    api_version: str = Field(alias="apiVersion")
    kind: str
    metadata: ObjectMeta
    type: str = "Opaque"
    data: dict[str, str] = Field(default_factory=dict)

    def raw_entries(self) -> dict[str, bytes]:
        """Each entry's bytes, as a controller reads `Secret.Data`."""
        return {k: base64.b64decode(v) for k, v in self.data.items()}

    def entries(self) -> dict[str, str]:
        """Each entry as text (invalid UTF-8 replaced)."""
        return {k: base64.b64decode(v).decode("utf-8", errors="replace") for k, v in self.data.items()}


class ConfigMap(Model):
    api_version: str = Field(alias="apiVersion")
    kind: str
    metadata: ObjectMeta
    data: dict[str, str] = Field(default_factory=dict)
    binary_data: dict[str, str] = Field(default_factory=dict, alias="binaryData")

    def entries(self) -> dict[str, str]:
        return dict(self.data)
