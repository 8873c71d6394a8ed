"""What the API server does to a custom resource before validating it, walking the structural schema:
unknown fields (rejected under strict field validation), `default`s applied, and null values of non-nullable
fields dropped. Pure functions over plain JSON values; `schema` is one node of an `openAPIV3Schema`."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from reference_impl.admission.fielderrors import child, index, key

Schema = dict[str, Any]


def properties(schema: Schema) -> dict[str, Schema]:
    return schema.get("properties") or {}


def map_values(schema: Schema) -> Schema | None:
    """The schema of the values of a map (`additionalProperties` given as a schema), if the node is a map."""
    extra = schema.get("additionalProperties")
    return extra if isinstance(extra, dict) else None


def children(value: Any, schema: Schema, path: str) -> Iterator[tuple[Any, Schema, str]]:
    """The nodes directly below `value` that `schema` describes (declared fields, map values, list items), each
    with its schema and field path. Fields the schema does not describe are left out."""
    if isinstance(value, dict):
        declared, values = properties(schema), map_values(schema)
        for name, item in value.items():
            if name in declared:
                yield item, declared[name], child(path, name)
            elif values is not None:
                yield item, values, key(path, name)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            yield item, schema["items"], index(path, i)


def keeps_unknown(schema: Schema) -> bool:
    return bool(schema.get("x-kubernetes-preserve-unknown-fields")) or schema.get("additionalProperties") is True


def unknown_fields(value: Any, schema: Schema, path: str = "") -> list[str]:
    """Paths of the fields the schema does not declare (`spec.x`, `spec.rules[0].y`)."""
    found: list[str] = []
    if isinstance(value, dict):
        declared, values = properties(schema), map_values(schema)
        embedded = schema.get("x-kubernetes-embedded-resource")
        for name, item in value.items():
            if name in declared:
                found += unknown_fields(item, declared[name], child(path, name))
            elif values is not None:
                found += unknown_fields(item, values, key(path, name))
            elif not (keeps_unknown(schema) or (embedded and name in ("apiVersion", "kind", "metadata"))):
                found.append(child(path, name))
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            found += unknown_fields(item, schema["items"], index(path, i))
    return found


def _null_dropped(value: Any, schema: Schema) -> bool:
    return value is None and not schema.get("nullable")


def apply_defaults(value: Any, schema: Schema) -> Any:
    """`value` with every `default` filled in where the field is absent (or null and not nullable), recursively,
    as the API server defaults a request body. The input is not modified."""
    if isinstance(value, dict):
        out = dict(value)
        declared = properties(schema)
        for name, sub in declared.items():
            if "default" in sub and (name not in out or _null_dropped(out[name], sub)):
                out[name] = copy.deepcopy(sub["default"])
        values = map_values(schema)
        for name, item in out.items():
            sub = declared.get(name, values)
            if sub is not None:
                out[name] = apply_defaults(item, sub)
        return out
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        items = schema["items"]
        return [
            apply_defaults(copy.deepcopy(items["default"]) if item is None and "default" in items else item, items)
            for item in value
        ]
    return value


def drop_nulls(value: Any, schema: Schema) -> Any:
    """`value` without the null fields a non-nullable schema node would receive (the API server prunes them)."""
    if isinstance(value, dict):
        declared, values = properties(schema), map_values(schema)
        out = {}
        for name, item in value.items():
            sub = declared.get(name, values)
            if sub is None:
                out[name] = item
            elif not _null_dropped(item, sub):
                out[name] = drop_nulls(item, sub)
        return out
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [drop_nulls(item, schema["items"]) for item in value]
    return value
