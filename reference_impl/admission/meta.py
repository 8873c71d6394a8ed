"""`metadata` as the API server admits it for every kind (ObjectMeta validation, apimachinery's wording)."""

from __future__ import annotations

import random
import re
from typing import Any

from reference_impl.admission import fielderrors as fe
from reference_impl.admission.openapi import json_type
from reference_impl.errors import FieldError

OBJECT_META_FIELDS = frozenset(
    [
        "name",
        "generateName",
        "namespace",
        "selfLink",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "labels",
        "annotations",
        "ownerReferences",
        "finalizers",
        "managedFields",
    ]
)
DEFAULT_NAMESPACE = "default"  # what kubectl fills in when a manifest names none

_DNS1123_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN = _DNS1123_LABEL + r"(\." + _DNS1123_LABEL + ")*"
_QUALIFIED_NAME = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE = "(" + _QUALIFIED_NAME + ")?"
_CONFIG_KEY = "[-._a-zA-Z0-9]+"


def _full(pattern: str) -> re.Pattern[str]:
    return re.compile(f"^{pattern}$")


DNS1123_LABEL, DNS1123_SUBDOMAIN = _full(_DNS1123_LABEL), _full(_DNS1123_SUBDOMAIN)
QUALIFIED_NAME, LABEL_VALUE, CONFIG_KEY = _full(_QUALIFIED_NAME), _full(_LABEL_VALUE), _full(_CONFIG_KEY)


def _too_long(limit: int) -> str:
    return f"must be no more than {limit} characters"


def dns1123_subdomain_errors(text: str) -> list[str]:
    errors = [_too_long(253)] if len(text) > 253 else []
    if not DNS1123_SUBDOMAIN.match(text):
        errors.append(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
            "must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
            f"'{_DNS1123_SUBDOMAIN}')"
        )
    return errors


def dns1123_label_errors(text: str) -> list[str]:
    errors = [_too_long(63)] if len(text) > 63 else []
    if not DNS1123_LABEL.match(text):
        errors.append(
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
            f"and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
            f"'{_DNS1123_LABEL}')"
        )
    return errors


def qualified_name_errors(text: str) -> list[str]:
    parts = text.split("/")
    if len(parts) > 2:
        return [
            "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
            "an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
            f"'{_QUALIFIED_NAME}') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    errors: list[str] = []
    if len(parts) == 2:
        prefix = parts[0]
        errors += ["prefix part " + e for e in dns1123_subdomain_errors(prefix)] if prefix else []
        errors += [] if prefix else ["prefix part must be non-empty"]
    name = parts[-1]
    if not name:
        errors.append("name part must be non-empty")
    elif len(name) > 63:
        errors.append("name part " + _too_long(63))
    if name and not QUALIFIED_NAME.match(name):
        errors.append(
            "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
            f"alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
            f"'{_QUALIFIED_NAME}')"
        )
    return errors


def label_value_errors(text: str) -> list[str]:
    errors = [_too_long(63)] if len(text) > 63 else []
    if not LABEL_VALUE.match(text):
        errors.append(
            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
            "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used "
            f"for validation is '{_LABEL_VALUE}')"
        )
    return errors


def config_key_errors(text: str) -> list[str]:
    """IsConfigMapKey: the names of Secret and ConfigMap entries."""
    errors = [_too_long(253)] if len(text) > 253 else []
    if not CONFIG_KEY.match(text):
        errors.append(
            "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or "
            f"'KEY_NAME',  or 'key-name', regex used for validation is '{_CONFIG_KEY}')"
        )
    if text == ".":
        errors.append("must not be '.'")
    elif text == "..":
        errors.append("must not be '..'")
    elif text.startswith(".."):
        errors.append("must not start with '..'")
    return errors


def decode_error(path: str, expected: str, value: Any, owner: str) -> fe.DecodeProblem:
    """A field of the wrong JSON type, as Go's decoder reports it (the value itself is never shown)."""
    found = {"integer": "number", "boolean": "bool"}.get(json_type(value), json_type(value))
    return fe.decoding(path, f"json: cannot unmarshal {found} into Go struct field {owner}.{path} of type {expected}")


def _string_map_errors(value: Any, path: str, owner: str) -> list[FieldError]:
    if not isinstance(value, dict):
        return [decode_error(path, "map[string]string", value, owner)]
    return [decode_error(path, "string", v, owner) for v in value.values() if not isinstance(v, str)]


_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"


def admit_metadata(
    document: dict[str, Any], kind: str, *, core: bool = False
) -> tuple[dict[str, Any], list[str], list[FieldError]]:
    """(metadata with the namespace filled in, unknown field paths, field errors) for a namespaced object."""
    meta = document.get("metadata")
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        return {}, [], [decode_error("metadata", "v1.ObjectMeta", meta, kind)]
    meta = dict(meta)
    unknown = [fe.child("metadata", name) for name in meta if name not in OBJECT_META_FIELDS]
    # Go's decoder names the innermost struct and the path to the field: a core kind is decoded as one typed
    # struct (`ObjectMeta.metadata.labels`), a custom resource's metadata on its own (`ObjectMeta.labels`).
    prefix = "metadata." if core else ""
    errors: list[FieldError] = []
    for name in ("labels", "annotations"):
        if name in meta and meta[name] is not None:
            errors += _string_map_errors(meta[name], prefix + name, "ObjectMeta")
    for name in ("name", "generateName", "namespace"):
        if meta.get(name) is not None and not isinstance(meta[name], str):
            errors.append(decode_error(prefix + name, "string", meta[name], "ObjectMeta"))
    if errors:
        return meta, unknown, errors
    if not meta.get("name") and meta.get("generateName"):
        meta["name"] = meta["generateName"] + "".join(random.choice(_NAME_CHARS) for _ in range(5))
    if not meta.get("name"):
        errors.append(fe.required("metadata.name", "name or generateName is required"))
    else:
        errors += [fe.invalid("metadata.name", meta["name"], e) for e in dns1123_subdomain_errors(meta["name"])]
    meta["namespace"] = meta.get("namespace") or DEFAULT_NAMESPACE
    if dns1123_label_errors(meta["namespace"]):
        # No such namespace can exist; the API server looks it up before it validates the object.
        errors.append(fe.namespace_not_found(meta["namespace"]))
    for label, value in (meta.get("labels") or {}).items():
        errors += [fe.invalid("metadata.labels", label, e) for e in qualified_name_errors(label)]
        errors += [fe.invalid("metadata.labels", value, e) for e in label_value_errors(value)]
    for annotation in meta.get("annotations") or {}:
        errors += [fe.invalid("metadata.annotations", annotation, e) for e in qualified_name_errors(annotation.lower())]
    return meta, unknown, errors
