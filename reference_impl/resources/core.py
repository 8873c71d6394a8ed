"""Core v1 kinds: Secret and ConfigMap."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from reference_impl.resources.meta import ObjectMeta

# The API server's rule for data keys (IsConfigMapKey).
CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")


def _check_keys(entries: dict[str, str]) -> dict[str, str]:
    for key in entries:
        if not CONFIG_KEY.match(key) or len(key) > 253:
            # The entry name is not secret; the value is never quoted.
            raise ValueError(f"entry name {key!r} must consist of alphanumerics, '-', '_' or '.' (at most 253)")
    return entries


class Secret(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True, strict=True)

    api_version: Literal["v1"] = Field(alias="apiVersion")
    kind: Literal["Secret"]
    metadata: ObjectMeta
    type: str = "Opaque"
    data: dict[str, str] = Field(default_factory=dict)
    string_data: dict[str, str] = Field(default_factory=dict, alias="stringData")
    immutable: bool | None = None

    @field_validator("data")
    @classmethod
    def _data_is_base64(cls, data: dict[str, str]) -> dict[str, str]:
        _check_keys(data)
        for key, value in data.items():
            try:
                base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raise ValueError(f"entry {key!r} is not valid base64") from None
        return data

    @field_validator("string_data")
    @classmethod
    def _string_data_keys(cls, data: dict[str, str]) -> dict[str, str]:
        return _check_keys(data)

    def entries(self) -> dict[str, str]:
        """Decoded entries, `stringData` merged over `data` as the API server does on write."""
        merged = {k: base64.b64decode(v).decode("utf-8", errors="replace") for k, v in self.data.items()}
        merged.update(self.string_data)
        return merged


class ConfigMap(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True, strict=True)

    api_version: Literal["v1"] = Field(alias="apiVersion")
    kind: Literal["ConfigMap"]
    metadata: ObjectMeta
    data: dict[str, str] = Field(default_factory=dict)
    binary_data: dict[str, str] = Field(default_factory=dict, alias="binaryData")
    immutable: bool | None = None

    @field_validator("data")
    @classmethod
    def _data_keys(cls, data: dict[str, str]) -> dict[str, str]:
        return _check_keys(data)

    def entries(self) -> dict[str, str]:
        return dict(self.data)
