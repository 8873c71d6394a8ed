"""Errors raised for bad manifests. Messages name the resource, the field path and the rule broken."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    path: str  # e.g. "spec.apiKeyAuth.keySources[0]"
    rule: str  # what was expected

    def __str__(self) -> str:
        return f"{self.path}: {self.rule}" if self.path else self.rule


class ManifestError(ValueError):
    """A manifest that the API server would reject. Never carries a Secret value."""

    def __init__(self, resource: str, errors: list[FieldError]) -> None:
        self.resource = resource
        self.errors = errors
        details = "; ".join(str(e) for e in errors)
        super().__init__(f"{resource} is invalid: {details}")
