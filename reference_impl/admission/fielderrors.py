"""Field errors worded the way the Kubernetes API server words them (k8s.io/apimachinery `field.Error`).

Each helper returns a `FieldError` whose `rule` is the part the API server prints after the field path, e.g.
`Invalid value: "object": exactly one of ... must be set`. Callers never pass a Secret value as a bad value.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from typing import Any

from reference_impl.errors import FieldError, ManifestError

ROOT = "<nil>"  # how the API server prints an error that belongs to no field


def go_quote(text: str) -> str:
    """A string as Go's %q prints it (close enough for printable text: quotes and backslashes escaped)."""
    return json.dumps(text, ensure_ascii=False)


def go_number(value: float) -> str:
    if isinstance(value, int) or (math.isfinite(value) and value.is_integer() and abs(value) < 1e21):
        return str(int(value))
    return repr(value)


def go_value(value: Any) -> str:
    """A bad value as `field.Error` prints it: strings quoted, numbers and booleans bare, maps and lists Go-style."""
    if value is None:
        return '"null"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return go_number(value)
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, dict):
        inner = ", ".join(f"{go_quote(str(k))}:{go_value(v)}" for k, v in sorted(value.items()))
        return f"map[string]interface {{}}{{{inner}}}"
    if isinstance(value, list | tuple):
        return "[]interface {}{" + ", ".join(go_value(v) for v in value) + "}"
    return go_quote(str(value))


def _with_detail(head: str, detail: str) -> str:
    return f"{head}: {detail}" if detail else head


def required(path: str, detail: str = "") -> FieldError:
    return FieldError(path, _with_detail("Required value", detail))


def invalid(path: str, value: Any, detail: str = "") -> FieldError:
    return FieldError(path, _with_detail(f"Invalid value: {go_value(value)}", detail))


def forbidden(path: str, detail: str) -> FieldError:
    return FieldError(path, _with_detail("Forbidden", detail))


def duplicate(path: str, value: Any) -> FieldError:
    return FieldError(path, f"Duplicate value: {go_value(value)}")


def not_supported(path: str, value: Any, supported: Iterable[Any]) -> FieldError:
    values = ", ".join(go_quote(v if isinstance(v, str) else json.dumps(v)) for v in supported)
    return FieldError(path, _with_detail(f"Unsupported value: {go_value(value)}", f"supported values: {values}"))


def too_long(path: str, maximum: int) -> FieldError:
    unit = "byte" if maximum == 1 else "bytes"
    return FieldError(path, f"Too long: may not be more than {maximum} {unit}")


def too_many(path: str, actual: int, maximum: int) -> FieldError:
    unit = "item" if maximum == 1 else "items"
    return FieldError(path, f"Too many: {actual}: must have at most {maximum} {unit}")


def unknown_field(path: str) -> FieldError:
    """Strict field validation (kubectl's default): a field the schema does not declare."""
    return FieldError(path, f"unknown field {go_quote(path)}")


def child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def index(path: str, i: int) -> str:
    return f"{path}[{i}]"


def key(path: str, name: str) -> str:
    return f"{path}[{name}]"


class AdmissionError(ManifestError):
    """A manifest the API server would reject; `str()` reads like its message:
    `<Kind>.<group> "<name>" is invalid: <error>` or `... is invalid: [<error>, <error>]`."""

    def __init__(self, resource: str, errors: Sequence[FieldError]) -> None:
        super().__init__(resource, list(errors))
        listed = [str(e) for e in errors]
        details = listed[0] if len(listed) == 1 else "[" + ", ".join(listed) + "]"
        self.args = (f"{resource} is invalid: {details}",)
