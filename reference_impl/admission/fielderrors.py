"""Field errors worded the way the Kubernetes API server words them (k8s.io/apimachinery `field.Error`), as
kube-apiserver v1.35 prints them (tests/local compares them with a real one).

Each helper returns a `FieldError` whose `rule` is the part the API server prints after the field path, e.g.
`Invalid value: exactly one of ... must be set`. Callers never pass a Secret value as a bad value.

A manifest the API server cannot even decode (a field of the wrong JSON type in a core kind, bad base64, a field
the schema does not declare under strict field validation) gets no field list but one message:
`<Kind> in version "<version>" cannot be handled as a <Kind>: <why>` (AdmissionError.undecodable).
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
    """A bad value as `field.Error` prints it: strings quoted, numbers and booleans bare, null as `null`, maps and
    lists as compact JSON."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return go_number(value)
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return go_quote(str(value))


def _with_detail(head: str, detail: str) -> str:
    return f"{head}: {detail}" if detail else head


def required(path: str, detail: str = "") -> FieldError:
    return FieldError(path, _with_detail("Required value", detail))


def invalid(path: str, value: Any, detail: str = "") -> FieldError:
    return FieldError(path, _with_detail(f"Invalid value: {go_value(value)}", detail))


def invalid_rule(path: str, detail: str) -> FieldError:
    """A failed validation rule (CEL): the value is not printed, only the rule's message."""
    return FieldError(path, _with_detail("Invalid value", detail))


class DecodeProblem(FieldError):
    """Why the API server cannot decode the manifest at all; it stops there (AdmissionError.undecodable)."""


class UnknownField(DecodeProblem):
    """Strict field validation (kubectl's default): a field the schema does not declare."""


def decoding(path: str, detail: str) -> DecodeProblem:
    return DecodeProblem(path, detail)


class NamespaceNotFound(FieldError):
    """The object's namespace does not exist; the API server says so before it validates anything else."""


def namespace_not_found(namespace: str) -> NamespaceNotFound:
    return NamespaceNotFound("metadata.namespace", f"namespaces {go_quote(namespace)} not found")


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


def unknown_field(path: str) -> UnknownField:
    return UnknownField(path, f"unknown field {go_quote(path)}")


def child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def index(path: str, i: int) -> str:
    return f"{path}[{i}]"


def key(path: str, name: str) -> str:
    return f"{path}[{name}]"


class AdmissionError(ManifestError):
    """A manifest the API server would reject. `message` is what the API server says:
    `<Kind>.<group> "<name>" is invalid: <error>` or `... is invalid: [<error>, <error>]`; for a manifest it cannot
    decode, `<Kind> in version "<version>" cannot be handled as a <Kind>: <why>`; for a namespace that cannot exist,
    `namespaces "<name>" not found`. `str()` is the message, after `context` (the file, and the object where the
    message does not name it) once `within()` gave one."""

    def __init__(
        self, resource: str, errors: Sequence[FieldError], message: str | None = None, context: str = ""
    ) -> None:
        super().__init__(resource, list(errors))
        if message is None:
            listed = [str(e) for e in errors]
            details = listed[0] if len(listed) == 1 else "[" + ", ".join(listed) + "]"
            message = f"{resource} is invalid: {details}"
        self.message, self.context = message, context
        self.args = (f"{context}: {message}" if context else message,)

    @classmethod
    def undecodable(cls, resource: str, kind: str, version: str, errors: Sequence[FieldError]) -> AdmissionError:
        """Decoding errors, or else unknown fields (all named, in one strict decoding error)."""
        unknown = [e.rule for e in errors if isinstance(e, UnknownField)]
        detail = "strict decoding error: " + ", ".join(unknown) if unknown else ", ".join(e.rule for e in errors)
        return cls(resource, errors, f"{kind} in version {go_quote(version)} cannot be handled as a {kind}: {detail}")

    @classmethod
    def not_found(cls, resource: str, error: FieldError) -> AdmissionError:
        return cls(resource, [error], error.rule)

    def within(self, source: str) -> AdmissionError:
        """The same error after the file it came from (and the object, where the message does not name it)."""
        context = source if self.message.startswith(self.resource) else f"{source}: {self.resource}"
        return AdmissionError(self.resource, self.errors, self.message, context)
