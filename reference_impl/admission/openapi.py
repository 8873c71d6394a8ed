"""OpenAPI v3 schema validation of a custom resource with `jsonschema`, reported as the API server reports it.

The keywords are Draft 4's (what a structural schema may use), adjusted where Kubernetes differs: `nullable`,
`x-kubernetes-int-or-string`, integral numbers accepted as integers, RE2 patterns, the formats Kubernetes checks,
and messages worded like kube-openapi's (`spec.x in body should be at least 1 chars long`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator
from datetime import datetime
from functools import cache
from typing import Any

import re2
from jsonschema import Draft4Validator, ValidationError, validators

from reference_impl.admission import fielderrors as fe
from reference_impl.errors import FieldError

Schema = dict[str, Any]
Keyword = Callable[[Any, Any, Any, Schema], Iterator[ValidationError]]


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _type_matches(value: Any, allowed: list[str]) -> bool:
    actual = json_type(value)
    return (
        actual in allowed
        or (actual == "number" and "integer" in allowed and float(value).is_integer())
        or (actual == "integer" and "number" in allowed)
    )


def _type(validator: Any, expected: Any, value: Any, schema: Schema) -> Iterator[ValidationError]:
    allowed = expected if isinstance(expected, list) else [expected]
    if not _type_matches(value, allowed):
        yield ValidationError("type", validator_value=",".join(allowed))


def _int_or_string(validator: Any, on: Any, value: Any, schema: Schema) -> Iterator[ValidationError]:
    if on and "type" not in schema and not _type_matches(value, ["integer", "string"]):
        yield ValidationError("type", validator="type", validator_value="integer,string")


@cache
def _regex(pattern: str) -> Any:
    return re2.compile(pattern)


def _pattern(validator: Any, pattern: str, value: Any, schema: Schema) -> Iterator[ValidationError]:
    if isinstance(value, str) and not _regex(pattern).search(value):
        yield ValidationError("pattern")


def _is_date_time(text: str) -> bool:
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return False
    return "T" in text.upper()


FORMATS: dict[str, Callable[[str], bool]] = {
    "ipv4": lambda s: isinstance(_ip(s), ipaddress.IPv4Address),
    "ipv6": lambda s: isinstance(_ip(s), ipaddress.IPv6Address),
    "date-time": _is_date_time,
}


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _format(validator: Any, name: str, value: Any, schema: Schema) -> Iterator[ValidationError]:
    # Kubernetes checks formats of strings only; unknown formats (int32, int64, ...) are not checked.
    check = FORMATS.get(name)
    if isinstance(value, str) and check is not None and not check(value):
        yield ValidationError("format")


def _required(validator: Any, names: list[str], value: Any, schema: Schema) -> Iterator[ValidationError]:
    if isinstance(value, dict):
        for name in names:
            if name not in value:
                yield ValidationError("required", path=[name])


def _additional_properties(validator: Any, extra: Any, value: Any, schema: Schema) -> Iterator[ValidationError]:
    # Undeclared fields were already rejected by strict field validation; only map values are checked here.
    if isinstance(extra, dict) and isinstance(value, dict):
        declared = schema.get("properties") or {}
        for name, item in value.items():
            if name not in declared:
                yield from validator.descend(item, extra, path=name)


def _skip_null_when_nullable(keyword: Keyword) -> Keyword:
    def checked(validator: Any, arg: Any, value: Any, schema: Schema) -> Iterator[ValidationError]:
        if value is None and schema.get("nullable"):
            return iter(())
        return keyword(validator, arg, value, schema)

    return checked


_BASE = Draft4Validator.VALIDATORS
_KEYWORDS: dict[str, Keyword] = {
    **{
        name: _BASE[name]
        for name in (
            "properties",
            "items",
            "enum",
            "maxLength",
            "minLength",
            "minimum",
            "maximum",
            "multipleOf",
            "minItems",
            "maxItems",
            "uniqueItems",
            "minProperties",
            "maxProperties",
            "allOf",
            "anyOf",
            "oneOf",
            "not",
        )
    },
    "type": _type,
    "x-kubernetes-int-or-string": _int_or_string,
    "pattern": _pattern,
    "format": _format,
    "required": _required,
    "additionalProperties": _additional_properties,
}

KubeValidator = validators.create(
    meta_schema=Draft4Validator.META_SCHEMA,
    validators={name: _skip_null_when_nullable(keyword) for name, keyword in _KEYWORDS.items()},
    type_checker=Draft4Validator.TYPE_CHECKER,
)


def body_path(parts: Any) -> str:
    path = ""
    for part in parts:
        path = fe.index(path, part) if isinstance(part, int) else fe.child(path, part)
    return path


def _bound(schema: Schema, keyword: str) -> str:
    value = schema[keyword]
    return fe.go_number(value) if isinstance(value, int | float) else str(value)


def to_field_error(error: ValidationError) -> FieldError:
    """One jsonschema error as the API server words the same violation (kubeOpenAPIResultToFieldErrors)."""
    path, keyword, value, schema = body_path(error.absolute_path), error.validator, error.instance, error.schema
    body = f"{path} in body" if path else "body"
    if keyword == "required":
        return fe.required(path)
    if keyword == "enum":
        return fe.not_supported(path, value, schema["enum"])
    if keyword == "maxLength":
        return fe.too_long(path, schema["maxLength"])
    if keyword in ("maxItems", "maxProperties"):
        return fe.too_many(path, len(value), schema[keyword])
    if keyword == "type":
        actual = json_type(value)
        return fe.invalid(path, actual, f"{body} must be of type {error.validator_value}: {fe.go_quote(actual)}")
    if keyword == "format":
        return fe.invalid(path, value, f"{body} must be of type {schema['format']}: {fe.go_quote(value)}")
    if keyword == "minLength":
        return fe.invalid(path, value, f"{body} should be at least {schema['minLength']} chars long")
    if keyword == "pattern":
        return fe.invalid(path, value, f"{body} should match '{schema['pattern']}'")
    if keyword == "minItems":
        return fe.invalid(path, len(value), f"{body} should have at least {schema['minItems']} items")
    if keyword == "minProperties":
        return fe.invalid(path, len(value), f"{body} should have at least {schema['minProperties']} properties")
    if keyword in ("minimum", "maximum"):
        exclusive = schema.get("exclusiveMinimum" if keyword == "minimum" else "exclusiveMaximum")
        relation = {"minimum": "greater than", "maximum": "less than"}[keyword]
        detail = f"{body} should be {relation}{'' if exclusive else ' or equal to'} {_bound(schema, keyword)}"
        return fe.invalid(path, value, detail)
    if keyword == "multipleOf":
        return fe.invalid(path, value, f"{body} should be a multiple of {_bound(schema, 'multipleOf')}")
    if keyword == "uniqueItems":
        return fe.invalid(path, "", f"{body} shouldn't contain duplicates")
    composite = {"anyOf": "at least one schema (anyOf)", "oneOf": "one and only one schema (oneOf)"}
    if keyword in composite:
        return fe.invalid(path, "", f"{path or 'body'} must validate {composite[keyword]}")
    if keyword == "not":
        return fe.invalid(path, "", f"{path or 'body'} must not validate the schema (not)")
    return fe.invalid(path, "", f"{body} is invalid ({keyword})")


def validate(value: Any, validator: Any) -> list[FieldError]:
    return [to_field_error(error) for error in validator.iter_errors(value)]


def compile_schema(schema: Schema) -> Any:
    return KubeValidator(schema)
