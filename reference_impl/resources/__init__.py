"""Typed models of the Kubernetes resources the gateway understands, and the YAML loader."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeAlias

import yaml
from pydantic import BaseModel, ValidationError

from reference_impl.errors import FieldError, ManifestError
from reference_impl.resources.agentgateway import AgentgatewayPolicy
from reference_impl.resources.core import ConfigMap, Secret
from reference_impl.resources.gateway_api import Gateway, HTTPRoute, ReferenceGrant
from reference_impl.resources.kgateway import TrafficPolicy

Resource: TypeAlias = Secret | ConfigMap | Gateway | HTTPRoute | ReferenceGrant | TrafficPolicy | AgentgatewayPolicy

KINDS: dict[str, type[BaseModel]] = {
    "Secret": Secret,
    "ConfigMap": ConfigMap,
    "Gateway": Gateway,
    "HTTPRoute": HTTPRoute,
    "ReferenceGrant": ReferenceGrant,
    "TrafficPolicy": TrafficPolicy,
    "AgentgatewayPolicy": AgentgatewayPolicy,
}

__all__ = [
    "KINDS",
    "AgentgatewayPolicy",
    "ConfigMap",
    "Gateway",
    "HTTPRoute",
    "ReferenceGrant",
    "Resource",
    "Secret",
    "TrafficPolicy",
    "load_manifest_files",
    "load_manifests",
    "parse_manifest",
    "resource_key",
    "resource_label",
]


def resource_key(resource: Resource) -> tuple[str, str, str]:
    return (resource.kind, resource.metadata.namespace, resource.metadata.name)


def resource_label(resource: Resource) -> str:
    return f"{resource.kind} {resource.metadata.namespace}/{resource.metadata.name}"


def _field_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part.startswith(("function-", "literal[")):  # pydantic's union/validator branch names
            continue
        else:
            path += f".{part}" if path else part
    return path


def _field_errors(error: ValidationError) -> list[FieldError]:
    # Only `loc` and `msg` are used: `input` may hold a Secret value and must never reach a message.
    found: list[FieldError] = []
    for item in error.errors(include_input=False, include_url=False):
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown field"
        elif item["type"] == "missing":
            message = "Required value"
        found.append(FieldError(_field_path(item["loc"]), message))
    return found


def parse_manifest(document: dict[str, Any], *, source: str | None = None) -> Resource:
    """Validate one decoded manifest into its typed model, or raise ManifestError naming field and rule."""
    where = f" ({source})" if source else ""
    if not isinstance(document, dict):
        raise ManifestError(f"manifest{where}", [FieldError("", "expected a mapping with apiVersion and kind")])
    kind = document.get("kind")
    meta = document.get("metadata") if isinstance(document.get("metadata"), dict) else {}
    label = f"{kind or 'manifest'} {meta.get('namespace', 'default')}/{meta.get('name', '<unnamed>')}{where}"
    model = KINDS.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise ManifestError(label, [FieldError("kind", f"expected one of {', '.join(KINDS)}; got {kind!r}")])
    try:
        return model.model_validate(document)  # type: ignore[return-value]
    except ValidationError as error:
        raise ManifestError(label, _field_errors(error)) from None


def load_manifests(text: str, *, source: str | None = None) -> list[Resource]:
    """Parse multi-document YAML. Empty documents are skipped; a List kind is expanded."""
    try:
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ManifestError(source or "manifest", [FieldError("", f"not valid YAML{where}")]) from None
    resources: list[Resource] = []
    for document in documents:
        items = (
            document.get("items", []) if isinstance(document, dict) and document.get("kind") == "List" else [document]
        )
        resources.extend(parse_manifest(item, source=source) for item in items)
    return resources


def load_manifest_files(paths: Iterable[Path]) -> list[Resource]:
    resources: list[Resource] = []
    for path in paths:
        resources.extend(load_manifests(path.read_text(encoding="utf-8"), source=str(path)))
    return resources
