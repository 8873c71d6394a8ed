"""The Kubernetes resources the gateway understands: the YAML loader, admission, then a typed view of each."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeAlias

import yaml
from pydantic import BaseModel

from reference_impl.admission import AdmissionError, admit
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

# libyaml's loader when available: it reads a 100,000-key Secret several times faster than the pure-Python one.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

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
    "decode_documents",
    "load_manifest_files",
    "load_manifests",
    "parse_manifest",
    "read_manifest_file",
    "resource_key",
    "resource_label",
]


def resource_key(resource: Resource) -> tuple[str, str, str]:
    return (resource.kind, resource.metadata.namespace, resource.metadata.name)


def resource_label(resource: Resource) -> str:
    return f"{resource.kind} {resource.metadata.namespace}/{resource.metadata.name}"


def _label(document: Any, source: str | None) -> str:
    kind = document.get("kind") if isinstance(document, dict) else None
    meta = document.get("metadata") if isinstance(document, dict) else None
    meta = meta if isinstance(meta, dict) else {}
    where = f" ({source})" if source else ""
    return f"{kind or 'manifest'} {meta.get('namespace') or 'default'}/{meta.get('name') or '<unnamed>'}{where}"


def parse_manifest(
    document: dict[str, Any], *, source: str | None = None, release: Mapping[str, str] | None = None
) -> Resource:
    """Admit one decoded manifest as the API server of `release` (default: the newest vendored releases) would,
    then read it through its typed view. Raises ManifestError (AdmissionError: the API server's own message,
    prefixed with `source`) for what the API server would refuse, or for a kind this gateway does not serve."""
    try:
        admitted = admit(document, release=release)
    except AdmissionError as error:
        if source is None:
            raise
        raise error.within(source) from None
    model = KINDS.get(admitted["kind"])
    if model is None:
        raise ManifestError(
            _label(document, source),
            [FieldError("kind", f"expected one of {', '.join(KINDS)}; got {admitted['kind']!r}")],
        )
    return model.model_validate(admitted)  # type: ignore[return-value]


# Deeper nesting than any real manifest has; a hostile file must get a clear error, not a RecursionError.
MAX_DEPTH = 64


def _depth_error(document: Any, limit: int = MAX_DEPTH) -> bool:
    """True if `document` nests mappings/lists deeper than `limit` (checked without recursion)."""
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        # Only containers go on the stack: a Secret's 100,000 string entries are looked at once, not pushed.
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def _too_deep(text: str, limit: int = MAX_DEPTH) -> bool:
    """True if the YAML stream nests deeper than `limit` before any error: read event by event (the pure-Python
    parser keeps no recursion), so this project's limit decides, never the YAML library's own."""
    depth = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
                depth += 1
                if depth > limit:
                    return True
            elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
                depth -= 1
    except yaml.YAMLError:
        return False
    return False


def _yaml_problem(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    problem = getattr(error, "problem", None)
    context = getattr(error, "context", None)
    detail = ": " + ", ".join(p for p in (context, problem) if p) if (problem or context) else ""
    return f"not valid YAML{where}{detail}"


def decode_documents(text: str, *, source: str | None = None, json_only: bool = False) -> list[Any]:
    """The non-empty documents of a YAML stream (or of one JSON document when `json_only`)."""
    where = source or "manifest"
    try:
        if json_only:
            documents = [json.loads(text)]
        else:
            documents = [d for d in yaml.load_all(text, Loader=_Loader) if d is not None]
    except json.JSONDecodeError as error:
        raise ManifestError(
            where, [FieldError("", f"not valid JSON at line {error.lineno}, column {error.colno}: {error.msg}")]
        ) from None
    except yaml.YAMLError as error:
        # The library may refuse deep nesting itself, in words of its own: this project's limit speaks first.
        problem = f"nested more than {MAX_DEPTH} levels deep" if _too_deep(text) else _yaml_problem(error)
        raise ManifestError(where, [FieldError("", problem)]) from None
    except RecursionError:
        raise ManifestError(where, [FieldError("", f"nested more than {MAX_DEPTH} levels deep")]) from None
    for document in documents:
        if isinstance(document, dict | list) and _depth_error(document):
            raise ManifestError(where, [FieldError("", f"nested more than {MAX_DEPTH} levels deep")])
    return documents


def _items(document: Any, source: str | None) -> list[Any]:
    """A `kind: List` expands to its items (each checked to be a mapping); anything else is one item."""
    if not (isinstance(document, dict) and document.get("kind") == "List"):
        return [document]
    items = document.get("items")
    if not isinstance(items, list):
        raise ManifestError(
            f"List{f' ({source})' if source else ''}",
            [FieldError("items", f"expected a list of manifests; got {_type_name(items)}")],
        )
    return items


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def load_manifests(
    text: str, *, source: str | None = None, json_only: bool = False, release: Mapping[str, str] | None = None
) -> list[Resource]:
    """Parse multi-document YAML (or one JSON document). Empty documents are skipped; a List kind is expanded."""
    resources: list[Resource] = []
    for document in decode_documents(text, source=source, json_only=json_only):
        resources.extend(parse_manifest(item, source=source, release=release) for item in _items(document, source))
    return resources


def read_manifest_file(
    path: Path, data: bytes | None = None, *, release: Mapping[str, str] | None = None
) -> list[Resource]:
    """The resources of one file (`data`: its content, if already read); a `.json` file must be strict JSON."""
    try:
        text = (path.read_bytes() if data is None else data).decode("utf-8")
    except UnicodeDecodeError:
        raise ManifestError(str(path), [FieldError("", "not a text file: it is not valid UTF-8")]) from None
    return load_manifests(text, source=str(path), json_only=path.suffix == ".json", release=release)


def load_manifest_files(paths: Iterable[Path]) -> list[Resource]:
    resources: list[Resource] = []
    for path in paths:
        resources.extend(read_manifest_file(path))
    return resources
