"""`x-kubernetes-list-type` invariants: a `set` holds no value twice, a `map` no two items with the same keys."""

from __future__ import annotations

import json
from typing import Any

from reference_impl.admission import fielderrors as fe
from reference_impl.admission.structural import Schema, children
from reference_impl.errors import FieldError


def _identity(item: Any) -> str:
    return json.dumps(item, sort_keys=True)


def validate(value: Any, schema: Schema, path: str = "") -> list[FieldError]:
    errors: list[FieldError] = []
    if isinstance(value, list):
        list_type, map_keys = schema.get("x-kubernetes-list-type"), schema.get("x-kubernetes-list-map-keys") or []
        seen: set[str] = set()
        for i, item in enumerate(value):
            if list_type == "set":
                marker, shown = _identity(item), item
            elif list_type == "map" and isinstance(item, dict):
                shown = {k: item[k] for k in map_keys if k in item}
                marker = _identity(shown)
            else:
                continue
            if marker in seen:
                errors.append(fe.duplicate(fe.index(path, i), shown))
            seen.add(marker)
    for item, below, item_path in children(value, schema, path):
        errors += validate(item, below, item_path)
    return errors
