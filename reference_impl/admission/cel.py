"""`x-kubernetes-validations`: CEL rules evaluated with `cel-python` the way the API server evaluates them.

Each rule runs with `self` bound to the value of its schema node, converted as Kubernetes converts it (declared
properties as fields, escaped when they clash with CEL keywords: `__namespace__`; maps as maps). Rules that use
`oldSelf` are transition rules and do not apply on create. The Kubernetes CEL extension functions the vendored
rules call are provided here (strings: `indexOf`, `lastIndexOf`, `split`, `lowerAscii`, `upperAscii`;
`quantity` with its comparisons); `has`, `size`, `matches`, `all`/`exists`/`exists_one`/`filter`, `startsWith`,
`endsWith`, `contains`, `duration`, `type`, `int`, `string` are standard CEL.
Programs are compiled once per distinct rule text and reused for every manifest; a rule's outcome is remembered
for the part of `self` it reads, so a manifest repeating known parts costs little.
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from fractions import Fraction
from functools import cache
from typing import Any

import celpy
from celpy import celtypes
from celpy.evaluation import CELEvalError

from reference_impl.admission import fielderrors as fe
from reference_impl.admission.structural import Schema, children, map_values, properties
from reference_impl.errors import FieldError

CEL_RESERVED = frozenset(
    [
        "true",
        "false",
        "null",
        "in",
        "as",
        "break",
        "const",
        "continue",
        "else",
        "for",
        "function",
        "if",
        "import",
        "let",
        "loop",
        "package",
        "namespace",
        "return",
        "var",
        "void",
        "while",
    ]
)
_ESCAPES = {"__": "__underscores__", ".": "__dot__", "-": "__dash__", "/": "__slash__"}
_ESCAPABLE = re.compile(r"__|[./-]|[^A-Za-z0-9_]")
_OLD_SELF = re.compile(r"\boldSelf\b")


def escape(name: str) -> str | None:
    """A property name as CEL rules spell it, or None if Kubernetes cannot expose it to CEL."""
    if not name or name[0].isdigit():
        return None
    if name in CEL_RESERVED:
        return f"__{name}__"
    unescapable = False

    def replace(match: re.Match[str]) -> str:
        nonlocal unescapable
        text = match.group(0)
        unescapable = unescapable or text not in _ESCAPES
        return _ESCAPES.get(text, "")

    escaped = _ESCAPABLE.sub(replace, name)
    return None if unescapable else escaped


def to_cel(value: Any, schema: Schema) -> Any:
    """A JSON value as a CEL value, shaped by its schema node."""
    if value is None:
        return None
    if isinstance(value, bool):
        return celtypes.BoolType(value)
    if isinstance(value, int):
        return celtypes.IntType(value)
    if isinstance(value, float):
        return celtypes.DoubleType(value)
    if isinstance(value, str):
        return celtypes.StringType(value)
    if isinstance(value, list):
        items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
        return celtypes.ListType([to_cel(item, items) for item in value])
    declared, values = properties(schema), map_values(schema)
    converted = {}
    for name, item in value.items():
        if name in declared:
            field = escape(name)
            if field is not None:
                converted[celtypes.StringType(field)] = to_cel(item, declared[name])
        elif values is not None or schema.get("x-kubernetes-preserve-unknown-fields"):
            converted[celtypes.StringType(name)] = to_cel(item, values or {})
    return celtypes.MapType(converted)


# Kubernetes resource.Quantity, as far as the `quantity` CEL library needs it: parse and compare.
_QUANTITY = re.compile(r"^([+-]?)(\d+(?:\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$")
_SUFFIX = {
    "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6),
    "m": Fraction(1, 1000),
    "": Fraction(1),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
    **{suffix: Fraction(1024**power) for power, suffix in enumerate(("Ki", "Mi", "Gi", "Ti", "Pi", "Ei"), start=1)},
}


class Quantity(Fraction):
    """A parsed Kubernetes quantity (`1Gi`, `500m`, `1e3`)."""


def _parse_quantity(text: str) -> Quantity | None:
    match = _QUANTITY.match(text)
    if not match:
        return None
    sign, number, suffix = match.group(1), match.group(2), match.group(3) or ""
    scale = Fraction(10) ** int(suffix[1:]) if suffix[:1] in ("e", "E") else _SUFFIX[suffix]
    amount = Fraction(number) * scale
    return Quantity(-amount if sign == "-" else amount)


def _quantity(text: Any) -> Any:
    parsed = _parse_quantity(str(text))
    if parsed is None:
        return CELEvalError(f"quantities must match the regular expression '{_QUANTITY.pattern}'")
    return parsed


def _compare(method: str) -> Any:
    def compare(left: Any, right: Any) -> Any:
        if not (isinstance(left, Quantity) and isinstance(right, Quantity)):
            return CELEvalError(f"no such overload: {method}")
        return celtypes.BoolType(left > right if method == "isGreaterThan" else left < right)

    return compare


def _string_function(name: str, body: Any) -> Any:
    def function(target: Any, *args: Any) -> Any:
        if not isinstance(target, str):
            return CELEvalError(f"no such overload: {name}")
        return body(target, *args)

    return function


def _split(text: str, separator: Any, limit: Any = -1) -> Any:
    limit = int(limit)
    if limit == 0:
        return celtypes.ListType()
    parts = text.split(str(separator)) if limit < 0 else text.split(str(separator), limit - 1)
    return celtypes.ListType([celtypes.StringType(p) for p in parts])


FUNCTIONS = {
    "quantity": _quantity,
    "isQuantity": lambda text: celtypes.BoolType(_parse_quantity(str(text)) is not None),
    "isGreaterThan": _compare("isGreaterThan"),
    "isLessThan": _compare("isLessThan"),
    "indexOf": _string_function("indexOf", lambda s, sub: celtypes.IntType(s.find(str(sub)))),
    "lastIndexOf": _string_function("lastIndexOf", lambda s, sub: celtypes.IntType(s.rfind(str(sub)))),
    "split": _string_function("split", _split),
    "lowerAscii": _string_function("lowerAscii", lambda s: celtypes.StringType(_ascii_case(s, str.lower))),
    "upperAscii": _string_function("upperAscii", lambda s: celtypes.StringType(_ascii_case(s, str.upper))),
}


def _ascii_case(text: str, change: Any) -> str:
    return "".join(change(c) if c.isascii() else c for c in text)


_ENVIRONMENT = celpy.Environment()


@cache
def program(rule: str) -> Any:
    """The compiled program of one rule; compiled once per distinct rule text."""
    return _ENVIRONMENT.program(_ENVIRONMENT.compile(rule), functions=FUNCTIONS)


def is_transition_rule(rule: dict[str, Any]) -> bool:
    return bool(_OLD_SELF.search(rule.get("rule", "")))


def _rule_text(rule: dict[str, Any]) -> str:
    message = (rule.get("message") or "").strip()
    return message or rule["rule"].strip()


def _failure_detail(rule: dict[str, Any]) -> str:
    message = (rule.get("message") or "").strip()
    return message or f"failed rule: {rule['rule'].strip()}"


def _error_text(error: BaseException) -> str:
    cause = error.args[0] if error.args else error
    text = str(cause)
    missing = re.match(r"no such member in mapping: '(.*)'$", text)
    return f"no such key: {missing.group(1)}" if missing else text


def _run(rule: str, activation: dict[str, Any]) -> Any:
    try:
        return program(rule).evaluate(activation)
    except CELEvalError as error:
        return error


def _rule_error(rule: dict[str, Any], value_type: str, path: str, activation: dict[str, Any]) -> FieldError | None:
    result = _run(rule["rule"], activation)
    if isinstance(result, CELEvalError):
        text = _error_text(result)
        if text.startswith("no such overload"):
            detail = (
                f"'{text}': call arguments did not match a supported operator, function or macro signature "
                f"for rule: {_rule_text(rule)}"
            )
        else:
            detail = f"{text} evaluating rule: {_rule_text(rule)}"
        return fe.invalid(path, value_type, detail)
    if result is True or (isinstance(result, celtypes.BoolType) and bool(result)):
        return None
    if rule.get("fieldPath"):
        for part in rule["fieldPath"].lstrip(".").split("."):
            path = fe.child(path, part)
    detail = _failure_detail(rule)
    if rule.get("messageExpression"):
        message = _run(rule["messageExpression"], activation)
        if isinstance(message, str) and message.strip() and "\n" not in message.strip():
            detail = message.strip()
    reason = rule.get("reason")
    if reason == "FieldValueForbidden":
        return fe.forbidden(path, detail)
    if reason == "FieldValueRequired":
        return fe.required(path, detail)
    if reason == "FieldValueDuplicate":
        return fe.duplicate(path, value_type)
    return fe.invalid_rule(path, detail)


_SELF_MEMBER = re.compile(r"\bself\.(\w+)")
_SELF_OTHERWISE = re.compile(r"\bself\b(?!\.\w)|\bself\.\w+\s*\(")  # bare `self`, or a macro on it: self.all(


@cache
def _members_read(rule_text: str) -> tuple[str, ...] | None:
    """The members of `self` a rule (with its messageExpression) can read, or None when it may read all of `self`
    (bare `self`, indexing, a macro or method called on `self`, or an escaped name unlike the JSON field's)."""
    if _SELF_OTHERWISE.search(rule_text):
        return None
    names = sorted(set(_SELF_MEMBER.findall(rule_text)))
    return None if any(name.startswith("__") for name in names) else tuple(names)


# (rule, path, what the rule reads of `self`) -> its outcome. A rule is a pure function of what it reads, and
# manifests repeat the same parts, so most rules of a new manifest have been evaluated on the same input already.
_OUTCOMES: OrderedDict[tuple[int, str, str], FieldError | None] = OrderedDict()
_OUTCOMES_SIZE = 16384
_ABSENT = "\x00absent"


def _outcome_key(rule: dict[str, Any], path: str, value: Any) -> tuple[int, str, str] | None:
    members = _members_read(f"{rule['rule']}\n{rule.get('messageExpression') or ''}")
    read = value if members is None or not isinstance(value, dict) else {m: value.get(m, _ABSENT) for m in members}
    try:
        return (id(rule), path, json.dumps(read, sort_keys=True))
    except (TypeError, ValueError):
        return None


def validate(value: Any, schema: Schema, path: str = "") -> list[FieldError]:
    """Every applicable rule of `schema` and the nodes below it, against `value`."""
    if value is None:
        return []
    errors: list[FieldError] = []
    rules = [r for r in schema.get("x-kubernetes-validations") or [] if not is_transition_rule(r)]
    activation: dict[str, Any] | None = None
    for rule in rules:
        key = _outcome_key(rule, path, value)
        if key is not None and key in _OUTCOMES:
            _OUTCOMES.move_to_end(key)
            error = _OUTCOMES[key]
        else:
            activation = activation or {"self": to_cel(value, schema)}
            error = _rule_error(rule, schema.get("type", ""), path, activation)
            if key is not None:
                _OUTCOMES[key] = error
                if len(_OUTCOMES) > _OUTCOMES_SIZE:
                    _OUTCOMES.popitem(last=False)
        if error is not None:
            errors.append(error)
    for nested in schema.get("allOf") or []:
        errors += validate(value, nested, path)
    for item, below, item_path in children(value, schema, path):
        errors += validate(item, below, item_path)
    return errors
