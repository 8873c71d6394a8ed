"""Status conditions: reading `Accepted` the way kgateway, agentgateway and Gateway API report it, and
waiting for it.

Policies (TrafficPolicy, AgentgatewayPolicy) report `status.ancestors[*].conditions` (Gateway API's
PolicyStatus); routes report `status.parents[*].conditions`; Gateways and most others `status.conditions`.

`wait_for` is a pure loop over a reader callable and a clock, so its timing and messages are unit-tested
with a fake status reader.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from conformance.targets.base import PolicyCondition

Obj = Mapping[str, Any]

POLICY_KINDS = frozenset({"TrafficPolicy", "AgentgatewayPolicy"})
#: Kinds whose Accepted=True means the gateway has taken them (routes by their parents, Gateways directly).
ACCEPTED_KINDS = frozenset({"HTTPRoute", "GRPCRoute", "Gateway"})


@dataclass(frozen=True)
class ObjectRef:
    api_version: str
    kind: str
    namespace: str | None
    name: str

    @classmethod
    def from_manifest(cls, manifest: Obj) -> ObjectRef:
        meta = manifest.get("metadata") or {}
        api_version, kind, name = manifest.get("apiVersion"), manifest.get("kind"), meta.get("name")
        if not (api_version and kind and name):
            raise ValueError("every manifest needs apiVersion, kind and metadata.name")
        return cls(str(api_version), str(kind), meta.get("namespace"), str(name))

    @property
    def label(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"


def conditions(obj: Obj | None) -> list[Obj]:
    if not obj:
        return []
    status = obj.get("status") or {}
    found: list[Obj] = []
    for key in ("ancestors", "parents"):
        for entry in status.get(key) or []:
            found.extend(entry.get("conditions") or [])
    found.extend(status.get("conditions") or [])
    return found


def accepted_condition(obj: Obj | None) -> Obj | None:
    """The `Accepted` condition; when several ancestors report one, a non-True one wins, because a policy
    rejected for any parent is not fully in force."""
    accepted = [c for c in conditions(obj) if c.get("type") == "Accepted"]
    if not accepted:
        return None
    return next((c for c in accepted if c.get("status") != "True"), accepted[0])


def to_policy_condition(condition: Obj) -> PolicyCondition:
    return PolicyCondition(
        type=str(condition.get("type", "")),
        status=str(condition.get("status", "")),
        reason=str(condition.get("reason", "")),
        message=str(condition.get("message", "")),
    )


def describe(condition: Obj) -> str:
    text = f"{condition.get('type')}={condition.get('status')}"
    if condition.get("reason"):
        text += f" ({condition['reason']})"
    if condition.get("message"):
        text += f": {condition['message']}"
    return text


def _stale(condition: Obj, obj: Obj) -> bool:
    # A condition written for an older generation describes the previous spec (e.g. before a re-apply).
    observed = condition.get("observedGeneration")
    generation = (obj.get("metadata") or {}).get("generation")
    return observed is not None and generation is not None and int(observed) < int(generation)


Check = Callable[[Obj | None], tuple[bool, str]]


def has_accepted(obj: Obj | None) -> tuple[bool, str]:
    """A policy is acted on once it carries a current Accepted condition, True or False (invalid-policy
    scenarios expect False)."""
    if obj is None:
        return False, "not found"
    condition = accepted_condition(obj)
    if condition is None:
        return False, "no Accepted condition yet"
    if _stale(condition, obj):
        return False, f"{describe(condition)} (for an older generation)"
    return True, describe(condition)


def is_accepted(obj: Obj | None) -> tuple[bool, str]:
    done, seen = has_accepted(obj)
    condition = accepted_condition(obj) if done else None
    return (condition is not None and condition.get("status") == "True"), seen


def exists(obj: Obj | None) -> tuple[bool, str]:
    return obj is not None, "present" if obj is not None else "not found"


def is_gone(obj: Obj | None) -> tuple[bool, str]:
    if obj is None:
        return True, "deleted"
    phase = (obj.get("status") or {}).get("phase")
    return False, f"still present{f' (phase {phase})' if phase else ''}"


@dataclass(frozen=True)
class Expectation:
    ref: ObjectRef
    goal: str
    check: Check


def applied_expectations(manifests: Iterable[Obj]) -> list[Expectation]:
    expectations = []
    for manifest in manifests:
        ref = ObjectRef.from_manifest(manifest)
        if ref.kind in POLICY_KINDS:
            expectations.append(Expectation(ref, "an Accepted condition", has_accepted))
        elif ref.kind in ACCEPTED_KINDS:
            expectations.append(Expectation(ref, "Accepted=True", is_accepted))
    return expectations


def gone_expectations(refs: Iterable[ObjectRef]) -> list[Expectation]:
    return [Expectation(ref, "deletion", is_gone) for ref in refs]


def wait_for(
    expectations: Sequence[Expectation],
    read: Callable[[ObjectRef], Obj | None],
    timeout: float,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    poll_interval: float = 0.25,
) -> None:
    """Poll `read` until every expectation holds; TimeoutError naming each resource still waiting, what it
    waits for, and the last status seen."""
    start = clock()
    deadline = start + timeout
    pending = list(expectations)
    last_seen: dict[ObjectRef, str] = {}
    while True:
        waiting = []
        for expectation in pending:
            done, seen = expectation.check(read(expectation.ref))
            if not done:
                waiting.append(expectation)
                last_seen[expectation.ref] = seen
        pending = waiting
        if not pending:
            return
        now = clock()
        if now >= deadline:
            details = "; ".join(f"{e.ref.label} waiting for {e.goal}, last seen: {last_seen[e.ref]}" for e in pending)
            raise TimeoutError(f"not ready after {now - start:.1f} s: {details}")
        sleep(max(0.0, min(poll_interval, deadline - now)))
