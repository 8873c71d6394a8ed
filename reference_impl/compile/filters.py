"""HTTPRoute rule filters, compiled once so the request path only applies them: header edits and ExtensionRefs."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from reference_impl.auth.decision import Headers
from reference_impl.http_syntax import header_name_problem, header_value_problem
from reference_impl.resources.gateway_api import HeaderModifier, HTTPRoute, RouteRule


class FilterError(Exception):
    """A rule filter that cannot be applied: the rule answers 500, never skips the filter."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason  # a Gateway API route condition reason
        self.message = message


@dataclass(frozen=True, slots=True)
class HeaderEdit:
    """A RequestHeaderModifier as byte operations: drop `remove` (which includes every `set` name), then append."""

    remove: frozenset[bytes]
    append: tuple[tuple[bytes, bytes], ...]

    def apply(self, headers: Headers) -> Headers:
        return [*((k, v) for k, v in headers if k not in self.remove), *self.append]


def _pair(where: str, name: str, value: str) -> tuple[bytes, bytes]:
    problem = header_name_problem(name)
    if problem:
        raise FilterError("UnsupportedValue", f"{where}.name: {problem}")
    problem = header_value_problem(value)
    if problem:
        raise FilterError("UnsupportedValue", f"{where}.value: {problem}")
    return name.lower().encode("ascii"), value.encode("utf-8")


def compile_header_edit(modifier: HeaderModifier, where: str) -> HeaderEdit:
    set_pairs = [_pair(f"{where}.set[{i}]", h.name, h.value) for i, h in enumerate(modifier.set)]
    add_pairs = [_pair(f"{where}.add[{i}]", h.name, h.value) for i, h in enumerate(modifier.add)]
    removed = set()
    for i, name in enumerate(modifier.remove):
        problem = header_name_problem(name)
        if problem:
            raise FilterError("UnsupportedValue", f"{where}.remove[{i}]: {problem}")
        removed.add(name.lower().encode("ascii"))
    return HeaderEdit(frozenset(removed | {name for name, _ in set_pairs}), (*set_pairs, *add_pairs))


def merge_edits(edits: Iterable[HeaderEdit]) -> HeaderEdit | None:
    edits = list(edits)
    if not edits:
        return None
    if len(edits) == 1:
        return edits[0]
    return HeaderEdit(frozenset().union(*(e.remove for e in edits)), tuple(p for e in edits for p in e.append))


# The policy kind each dialect's controller resolves an ExtensionRef filter to.
EXTENSION_KINDS: dict[str, tuple[str, str]] = {"TrafficPolicy": ("gateway.kgateway.dev", "TrafficPolicy")}


def unsupported_extension_ref(route: HTTPRoute, dialect: str) -> FilterError | None:
    """agentgateway resolves no ExtensionRef at all: one such filter on any rule leaves the whole HTTPRoute
    unprogrammed (its translator drops the route), so its requests find no route. None for other dialects."""
    if dialect in EXTENSION_KINDS:
        return None
    for index, rule in enumerate(route.spec.rules):
        for position, route_filter in enumerate(rule.filters):
            ref = route_filter.extension_ref
            if route_filter.type == "ExtensionRef" and ref is not None:
                field = f"spec.rules[{index}].filters[{position}].extensionRef"
                return FilterError("IncompatibleFilters", f"{field}: unsupported ExtensionRef: {ref.group}/{ref.kind}")
    return None


def extension_ref_names(rule: RouteRule, where: str, dialect: str, exists: Iterable[str]) -> list[str]:
    """Names of the policies a rule's ExtensionRef filters point at, all of which exist.

    Gateway API: a filter whose reference cannot be resolved must not be skipped; the requests it would have
    processed get an HTTP error. So an unknown group/kind, or a policy that does not exist (or was rejected),
    raises FilterError and the rule answers 500.
    """
    known = set(exists)
    names = []
    for index, route_filter in enumerate(rule.filters):
        ref = route_filter.extension_ref
        if route_filter.type != "ExtensionRef" or ref is None:
            continue
        field = f"{where}.filters[{index}].extensionRef"
        if dialect not in EXTENSION_KINDS:  # agentgateway resolves no ExtensionRef (its translator's own message)
            raise FilterError("IncompatibleFilters", f"{field}: unsupported ExtensionRef: {ref.group}/{ref.kind}")
        if (ref.group, ref.kind) != EXTENSION_KINDS[dialect]:
            raise FilterError(
                "InvalidKind",
                f"{field}: {ref.group or 'core'}/{ref.kind} is not a filter kind this Gateway's controller resolves",
            )
        if ref.name not in known:
            raise FilterError("BackendNotFound", f"{field}: {ref.kind} {ref.name} does not exist")
        names.append(ref.name)
    return names
