"""Status conditions: reading `Accepted` the way kgateway, agentgateway and Gateway API report it, and
waiting for it.

Policies (TrafficPolicy, AgentgatewayPolicy) report `status.ancestors[*].conditions` (Gateway API's
PolicyStatus); routes report `status.parents[*].conditions`; Gateways and most others `status.conditions`.

`wait_for` is a pure loop over a reader callable and a clock, so its timing and messages are unit-tested
with a fake status reader.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from conformance.targets.base import PolicyCondition
from reference_impl.poll import SYSTEM, Clock, poll

Obj = Mapping[str, Any]

POLICY_KINDS = frozenset({"TrafficPolicy", "AgentgatewayPolicy"})
GATEWAY_GROUP = "gateway.networking.k8s.io"


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


def _find(conditions_: Iterable[Obj], type_: str) -> Obj | None:
    return next((c for c in conditions_ if c.get("type") == type_), None)


#: Reasons that say a policy is not final yet: the controllers' `Pending` (referenced, not yet fully processed;
#: agentgateway controller/api/v1alpha1/agentgateway/policy_types.go) and Gateway API's `TargetNotFound` (the
#: target may simply not be seen yet: every target a scenario names is applied with or before its policy).
TRANSIENT_REASONS = frozenset({"Pending", "TargetNotFound"})

Check = Callable[[Obj | None], tuple[bool, str]]


def _ancestor_label(entry: Obj) -> str:
    ref = entry.get("ancestorRef") or entry.get("parentRef") or {}
    namespace = f"{ref['namespace']}/" if ref.get("namespace") else ""
    # Gateway API defaults a parent's kind to Gateway; agentgateway's status summary is no Kubernetes object.
    kind = ref.get("kind") or ("Gateway" if ref.get("group", GATEWAY_GROUP) == GATEWAY_GROUP else "")
    section = f" ({ref['sectionName']})" if ref.get("sectionName") else ""
    return f"{kind} {namespace}{ref.get('name', '?')}{section}".strip()


def _not_current(condition: Obj | None, obj: Obj, type_: str = "Accepted") -> str | None:
    """Why a condition does not describe the object's current spec yet, or None."""
    if condition is None:
        return f"no {type_} condition yet"
    if _stale(condition, obj):
        return f"{describe(condition)} (for an older generation)"
    return None


def _ancestor_settled(entry: Obj, obj: Obj) -> str | None:
    """Why one ancestor's status of a policy is not final yet, or None once it is."""
    entry_conditions = entry.get("conditions") or []
    accepted = _find(entry_conditions, "Accepted")
    problem = _not_current(accepted, obj)
    if problem or accepted is None:
        return problem
    if accepted.get("reason") in TRANSIENT_REASONS:
        return describe(accepted)
    attached = _find(entry_conditions, "Attached")
    # The controller writes an ancestor's conditions in one update, so an Attached condition older than a current
    # Accepted is one it did not write this time: agentgateway v1.4.1 writes none beside a PartiallyValid Accepted
    # and keeps the earlier one (controller/pkg/agentgateway/plugins/traffic_plugin.go PolicyConditionMap,
    # status.go setConditions).
    if accepted.get("status") != "True" or attached is None or _stale(attached, obj):
        return None
    # Accepted but not attached yet (agentgateway reports a target it has not resolved this way).
    return describe(attached) if attached.get("reason") in TRANSIENT_REASONS else None


#: Accepted=False reasons with which a controller reports a route it has acted on: kgateway serves a rule it cannot
#: honour (a filter naming a policy that does not exist) as an error and says so on the route
#: (kgateway pkg/pluginsdk/reporter/types.go, RouteRuleReplaced and RouteRuleDropped).
RULE_SERVED_AS_ERROR = frozenset({"RouteRuleReplaced", "RouteRuleDropped"})


def _parent_accepted(entry: Obj | None, obj: Obj) -> str | None:
    """Why one parent has not acted on a route (for its current generation) yet, or None once it has: accepted
    it, or accepted it with a rule served as an error."""
    accepted = _find((entry or {}).get("conditions") or [], "Accepted")
    problem = _not_current(accepted, obj)
    if problem or accepted is None:
        return problem
    if accepted.get("status") == "True" or accepted.get("reason") in RULE_SERVED_AS_ERROR:
        return None
    return describe(accepted)


def _all_done(entries: Iterable[tuple[str, str | None, Obj | None]]) -> tuple[bool, str]:
    """(label, why not done or None, its Accepted condition) per ancestor or parent -> (all done, what was seen)."""
    done, seen = True, []
    for label, problem, accepted in entries:
        done = done and problem is None
        seen.append(f"{label}: {problem or describe(accepted or {})}")
    return done, "; ".join(seen)


def policy_settled(obj: Obj | None) -> tuple[bool, str]:
    """A policy has been acted on once every ancestor the controller reports carries a final status for the
    current generation: Accepted True or False (invalid-policy scenarios expect False) for a reason that is not
    transient, and, when accepted, an Attached condition (if reported) that is not transient either. One final
    Accepted among several ancestors is not enough."""
    if obj is None:
        return False, "not found"
    ancestors = (obj.get("status") or {}).get("ancestors") or []
    if not ancestors:
        return False, "no ancestor status yet"
    return _all_done(
        (_ancestor_label(entry), _ancestor_settled(entry, obj), _find(entry.get("conditions") or [], "Accepted"))
        for entry in ancestors
    )


def _same_parent(spec_ref: Obj, status_ref: Obj, route_namespace: str | None) -> bool:
    def key(ref: Obj) -> tuple[Any, ...]:
        return (ref.get("name"), ref.get("namespace") or route_namespace, ref.get("sectionName"), ref.get("port"))

    return key(spec_ref) == key(status_ref)


def route_accepted(obj: Obj | None) -> tuple[bool, str]:
    """A route is taken once every parentRef in its spec has a status entry whose Accepted is True for the
    current generation; a status for only some parents (a parent just added) is not enough."""
    if obj is None:
        return False, "not found"
    namespace = (obj.get("metadata") or {}).get("namespace")
    parents = (obj.get("status") or {}).get("parents") or []
    spec_refs = (obj.get("spec") or {}).get("parentRefs") or []
    if not spec_refs:
        return False, "no parentRefs"
    entries = []
    for spec_ref in spec_refs:
        entry = next((p for p in parents if _same_parent(spec_ref, p.get("parentRef") or {}, namespace)), None)
        label = _ancestor_label({"parentRef": {"namespace": namespace, **spec_ref}})
        entries.append((label, _parent_accepted(entry, obj), _find((entry or {}).get("conditions") or [], "Accepted")))
    return _all_done(entries)


#: Accepted=False reasons with which kgateway reports a Gateway it has acted on by serving it as an error: a
#: Gateway-wide policy it cannot apply replaces the whole Gateway, a listener's the listener
#: (kgateway pkg/pluginsdk/reporter/types.go, GatewayReplaced and ListenerReplaced).
GATEWAY_SERVED_AS_ERROR = frozenset({"GatewayReplaced", "ListenerReplaced"})


def is_accepted(obj: Obj | None) -> tuple[bool, str]:
    """`status.conditions` Accepted=True for the current generation (a Gateway), or Accepted=False for a reason
    that says the controller serves it as an error."""
    if obj is None:
        return False, "not found"
    accepted = _find((obj.get("status") or {}).get("conditions") or [], "Accepted")
    problem = _not_current(accepted, obj)
    if problem or accepted is None:
        return False, problem or ""
    done = accepted.get("status") == "True" or accepted.get("reason") in GATEWAY_SERVED_AS_ERROR
    return done, describe(accepted)


def condition_true(type_: str) -> Check:
    """`status.conditions` has `type_`=True (a CRD Established, a GatewayClass Accepted)."""

    def check(obj: Obj | None) -> tuple[bool, str]:
        if obj is None:
            return False, "not found"
        found = _find((obj.get("status") or {}).get("conditions") or [], type_)
        if found is None:
            return False, f"no {type_} condition yet"
        return found.get("status") == "True", describe(found)

    return check


def exists(obj: Obj | None) -> tuple[bool, str]:
    return obj is not None, "present" if obj is not None else "not found"


def is_gone(obj: Obj | None) -> tuple[bool, str]:
    if obj is None:
        return True, "deleted"
    phase = (obj.get("status") or {}).get("phase")
    return False, f"still present{f' (phase {phase})' if phase else ''}"


def service_port(port: int) -> Check:
    """A Service that exposes `port` (a listener a scenario just added reaches the Service a moment later)."""

    def check(obj: Obj | None) -> tuple[bool, str]:
        if obj is None:
            return False, "not found"
        ports = [p.get("port") for p in (obj.get("spec") or {}).get("ports") or []]
        return port in ports, f"ports {', '.join(map(str, ports)) or 'none'}"

    return check


@dataclass(frozen=True)
class Expectation:
    ref: ObjectRef
    goal: str
    check: Check


#: Route kinds, whose status is per parentRef.
ROUTE_KINDS = frozenset({"HTTPRoute", "GRPCRoute"})


def policy_settled_or_detached(obj: Obj | None) -> tuple[bool, str]:
    """For a policy only routes' ExtensionRef filters can attach, and that no route of the change names: kgateway
    reports nothing for a policy nothing attaches (its last status, for an older generation, stays), so no status
    at all or only such old ones also counts as acted on."""
    done, seen = policy_settled(obj)
    if done or obj is None:
        return done, seen
    ancestors = (obj.get("status") or {}).get("ancestors") or []
    detached = all(_stale(_find(a.get("conditions") or [], "Accepted") or {}, obj) for a in ancestors)
    return detached, seen


def _extension_refs(manifests: Iterable[Obj]) -> set[tuple[str, str, str]]:
    """(kind, namespace, name) of every policy a route among the manifests names in an ExtensionRef filter."""
    named = set()
    for manifest in manifests:
        if manifest.get("kind") not in ROUTE_KINDS:
            continue
        namespace = (manifest.get("metadata") or {}).get("namespace") or "default"
        for rule in (manifest.get("spec") or {}).get("rules") or []:
            for item in rule.get("filters") or []:
                ref = item.get("extensionRef") or {}
                if item.get("type") == "ExtensionRef" and ref.get("kind") in POLICY_KINDS:
                    named.add((ref["kind"], namespace, ref.get("name")))
    return named


def applied_expectations(manifests: Iterable[Obj]) -> list[Expectation]:
    manifests = list(manifests)
    named = _extension_refs(manifests)
    expectations = []
    for manifest in manifests:
        ref = ObjectRef.from_manifest(manifest)
        spec = manifest.get("spec") or {}
        unnamed = (ref.kind, ref.namespace or "default", ref.name) not in named
        if ref.kind in POLICY_KINDS and not spec.get("targetRefs") and not spec.get("targetSelectors") and unnamed:
            expectations.append(
                Expectation(ref, "a final status, unless nothing attaches it any more", policy_settled_or_detached)
            )
        elif ref.kind in POLICY_KINDS:
            expectations.append(Expectation(ref, "a final status from every ancestor", policy_settled))
        elif ref.kind in ROUTE_KINDS:
            expectations.append(
                Expectation(
                    ref,
                    "Accepted=True from every parent (or a rule served as an error), for this generation",
                    route_accepted,
                )
            )
        elif ref.kind == "Gateway":
            expectations.append(
                Expectation(ref, "Accepted=True for this generation (or served as an error)", is_accepted)
            )
    return expectations


def gone_expectations(refs: Iterable[ObjectRef]) -> list[Expectation]:
    return [Expectation(ref, "deletion", is_gone) for ref in refs]


def wait_for(
    expectations: Sequence[Expectation],
    read: Callable[[ObjectRef], Obj | None],
    timeout: float,
    *,
    clock: Clock = SYSTEM,
    poll_interval: float = 0.25,
    alive: Callable[[], str | None] | None = None,
) -> None:
    """Poll `read` until every expectation holds; TimeoutError naming each resource still waiting, what it
    waits for, and the last status seen. `alive` says why the wait can never end (a process that died), if so."""
    pending = list(expectations)
    last_seen: dict[ObjectRef, str] = {}

    def probe() -> str | None:
        nonlocal pending
        waiting = []
        for expectation in pending:
            done, seen = expectation.check(read(expectation.ref))
            if not done:
                waiting.append(expectation)
                last_seen[expectation.ref] = seen
        pending = waiting
        if not pending:
            return None
        return "; ".join(f"{e.ref.label} waiting for {e.goal}, last seen: {last_seen[e.ref]}" for e in pending)

    poll(
        probe,
        timeout=timeout,
        what="resources",
        interval=poll_interval,
        alive=alive,
        on_timeout=lambda details, elapsed, _: TimeoutError(f"not ready after {elapsed:.1f} s: {details}"),
        clock=clock,
    )
