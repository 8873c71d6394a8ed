"""Reading Accepted conditions in the shapes kgateway, agentgateway and Gateway API write them, and waiting until
they are final, driven by recorded condition sequences, a scripted status reader and a fake clock.

The status shapes follow the controllers' own: kgateway's translator status tests (TrafficPolicy ancestors with
Accepted Valid and Attached Attached / Merged / Overridden) and agentgateway v1.4.1's traffic plugin
(`controller/pkg/agentgateway/plugins/traffic_plugin.go`: Valid / PartiallyValid / Invalid, Attached Pending, and a
`StatusSummary` ancestor for a target it has not resolved).
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance.kube.conditions import (
    Expectation,
    ObjectRef,
    accepted_condition,
    applied_expectations,
    condition_true,
    gone_expectations,
    policy_settled,
    route_accepted,
    to_policy_condition,
    wait_for,
)
from conformance.targets.base import PolicyCondition
from reference_impl.poll import ManualClock, Stopped

POLICY = ObjectRef("gateway.kgateway.dev/v1alpha1", "TrafficPolicy", "kgateway-system", "api-key")
ROUTE = ObjectRef("gateway.networking.k8s.io/v1", "HTTPRoute", "kgateway-system", "httpbin")
GATEWAY = ObjectRef("gateway.networking.k8s.io/v1", "Gateway", "kgateway-system", "http")
GATEWAY_REF = {"group": "gateway.networking.k8s.io", "kind": "Gateway", "namespace": "kgateway-system", "name": "http"}
SUMMARY_REF = {"group": "agentgateway.dev", "name": "StatusSummary"}


def condition(
    status: str, reason: str, message: str = "", generation: int | None = None, type_: str = "Accepted"
) -> dict[str, Any]:
    found: dict[str, Any] = {"type": type_, "status": status, "reason": reason, "message": message}
    if generation is not None:
        found["observedGeneration"] = generation
    return found


def attached(status: str, reason: str, message: str = "", generation: int | None = None) -> dict[str, Any]:
    return condition(status, reason, message, generation, "Attached")


def ancestor(*conditions: dict[str, Any], ref: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "ancestorRef": ref or GATEWAY_REF,
        "controllerName": "kgateway.dev/kgateway",
        "conditions": list(conditions),
    }


def policy(*ancestors: dict[str, Any], generation: int = 1) -> dict[str, Any]:
    """A TrafficPolicy / AgentgatewayPolicy as read back: Gateway API PolicyStatus."""
    return {"metadata": {"name": "api-key", "generation": generation}, "status": {"ancestors": list(ancestors)}}


def simple_policy(*conditions: dict[str, Any], generation: int = 1) -> dict[str, Any]:
    """One ancestor per Accepted condition, each also reporting Attached=True."""
    return policy(*(ancestor(c, attached("True", "Attached")) for c in conditions), generation=generation)


def route(
    *parents: tuple[dict[str, Any], list[dict[str, Any]]], refs: list[dict[str, Any]] | None = None, generation: int = 1
) -> dict[str, Any]:
    spec_refs = refs if refs is not None else [{"name": "http"}]
    return {
        "metadata": {"namespace": "kgateway-system", "generation": generation},
        "spec": {"parentRefs": spec_refs},
        "status": {"parents": [{"parentRef": ref, "conditions": conds} for ref, conds in parents]},
    }


def gateway(*conditions: dict[str, Any], generation: int = 1) -> dict[str, Any]:
    return {"metadata": {"generation": generation}, "status": {"conditions": list(conditions)}}


def manifest(ref: ObjectRef) -> dict[str, Any]:
    found = {
        "apiVersion": ref.api_version,
        "kind": ref.kind,
        "metadata": {"name": ref.name, "namespace": ref.namespace},
    }
    if ref.kind == "TrafficPolicy":
        found["spec"] = {"targetRefs": [GATEWAY_REF]}
    return found


class Reader:
    """Returns the next status from a recorded sequence each time a resource is read (the last one repeats)."""

    def __init__(self, script: dict[ObjectRef, list[dict[str, Any] | None]]) -> None:
        self.script = script
        self.reads: list[ObjectRef] = []

    def __call__(self, ref: ObjectRef) -> dict[str, Any] | None:
        self.reads.append(ref)
        states = self.script[ref]
        return states.pop(0) if len(states) > 1 else states[0]


def reads_until_ready(ref: ObjectRef, sequence: list[dict[str, Any] | None]) -> int:
    """How many reads the wait takes over a recorded sequence whose last state must end it."""
    clock = ManualClock()
    reader = Reader({ref: list(sequence)})
    wait_for(applied_expectations([manifest(ref)]), reader, 60, clock=clock, poll_interval=0.1)
    return len(reader.reads)


def timeout_message(ref: ObjectRef, state: dict[str, Any], timeout: float, poll_interval: float = 0.25) -> str:
    """The error of a wait that never ends: the resource stays in `state`."""
    clock = ManualClock()
    with pytest.raises(TimeoutError) as raised:
        wait_for(
            applied_expectations([manifest(ref)]),
            Reader({ref: [state]}),
            timeout,
            clock=clock,
            poll_interval=poll_interval,
        )
    assert clock.time == pytest.approx(timeout) and all(pause <= poll_interval for pause in clock.sleeps)
    return str(raised.value)


# -- reading -------------------------------------------------------------------------------------------------


def test_policy_status_shape() -> None:
    found = accepted_condition(simple_policy(condition("True", "Valid", "Policy accepted")))
    assert found is not None
    assert to_policy_condition(found) == PolicyCondition("Accepted", "True", "Valid", "Policy accepted")


def test_a_rejection_by_any_ancestor_wins() -> None:
    found = accepted_condition(
        simple_policy(condition("True", "Valid"), condition("False", "Invalid", "no valid API keys"))
    )
    assert found is not None and (found["status"], found["reason"]) == ("False", "Invalid")


def test_agentgateway_partially_valid_is_accepted() -> None:
    found = accepted_condition(simple_policy(condition("True", "PartiallyValid", "Secret keys contains invalid key x")))
    assert found is not None and found["reason"] == "PartiallyValid"


def test_plain_conditions_and_missing_status() -> None:
    assert accepted_condition({"status": {"conditions": [condition("True", "Accepted")]}}) is not None
    assert accepted_condition({"metadata": {}}) is None
    assert accepted_condition(None) is None


# -- policies: final status on every ancestor ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "final"),
    [
        # kgateway's translator status shapes
        ("kgateway attached", ancestor(condition("True", "Valid", generation=1), attached("True", "Attached"))),
        ("kgateway merged", ancestor(condition("True", "Valid", generation=1), attached("True", "Merged"))),
        ("kgateway overridden", ancestor(condition("True", "Valid", generation=1), attached("False", "Overridden"))),
        ("kgateway invalid", ancestor(condition("False", "Invalid", "no valid API keys found in secrets"))),
        # agentgateway v1.4.1: an invalid policy is not attached, and that is final
        (
            "agentgateway invalid",
            ancestor(
                condition("False", "Invalid", "secret keys not found"),
                attached("False", "Pending", "Policy is not attached due to invalid status"),
            ),
        ),
        ("agentgateway partially valid", ancestor(condition("True", "PartiallyValid"), attached("True", "Attached"))),
    ],
)
def test_final_policy_statuses_end_the_wait(name: str, final: dict[str, Any]) -> None:
    assert policy_settled(policy(final))[0], name


def test_pending_is_not_final() -> None:
    # The controller has seen the policy but not finished with it: Accepted=False (Pending), then Valid.
    sequence = [
        policy(),
        policy(ancestor(condition("False", "Pending", "Policy is pending"))),
        policy(ancestor(condition("False", "Pending", "Policy is pending"))),
        policy(ancestor(condition("True", "Valid"), attached("True", "Attached"))),
    ]
    assert reads_until_ready(POLICY, sequence) == 4


def test_target_not_found_is_not_final() -> None:
    sequence = [
        policy(ancestor(condition("False", "TargetNotFound", "HTTPRoute kgateway-system/httpbin not found"))),
        policy(ancestor(condition("True", "Valid"), attached("True", "Attached"))),
    ]
    assert reads_until_ready(POLICY, sequence) == 2


def test_accepted_but_not_attached_yet_is_not_final() -> None:
    # agentgateway v1.4.1 reports an unresolved target on a StatusSummary ancestor: Accepted Valid, Attached Pending.
    not_attached = ancestor(
        condition("True", "Valid"),
        attached("False", "Pending", "Policy is not attached: HTTPRoute agentgateway-system/httpbin not found"),
        ref=SUMMARY_REF,
    )
    sequence = [
        policy(not_attached),
        policy(not_attached),
        policy(ancestor(condition("True", "Valid"), attached("True", "Attached"))),
    ]
    assert reads_until_ready(POLICY, sequence) == 3


def test_every_ancestor_must_be_current() -> None:
    # Re-applied (generation 2): one Gateway already reports the new spec, the other still the old one.
    fresh = ancestor(condition("True", "Valid", generation=2), attached("True", "Attached", generation=2))
    stale = ancestor(
        condition("True", "Valid", generation=1),
        attached("True", "Attached", generation=1),
        ref={**GATEWAY_REF, "name": "other"},
    )
    other_fresh = ancestor(
        condition("False", "Invalid", "no valid API keys found in secrets", generation=2),
        ref={**GATEWAY_REF, "name": "other"},
    )
    sequence = [policy(fresh, stale, generation=2), policy(fresh, other_fresh, generation=2)]
    assert reads_until_ready(POLICY, sequence) == 2


def test_an_attached_condition_the_controller_did_not_rewrite_does_not_hold_the_wait() -> None:
    # Observed on agentgateway v1.4.1: re-applied with an invalid entry, the policy's Accepted became PartiallyValid
    # for generation 2 while the Attached condition of generation 1 stayed (it writes no Attached beside a
    # PartiallyValid Accepted, and keeps the conditions it does not write).
    sequence = [
        policy(
            ancestor(condition("True", "Valid", generation=1), attached("True", "Attached", generation=1)), generation=2
        ),
        policy(
            ancestor(
                condition("True", "PartiallyValid", "secret keys-1 contains invalid key zoe: ...", generation=2),
                attached("True", "Attached", generation=1),
            ),
            generation=2,
        ),
    ]
    assert reads_until_ready(POLICY, sequence) == 2


def test_a_current_pending_attached_condition_is_not_final() -> None:
    sequence = [
        policy(
            ancestor(condition("True", "Valid", generation=2), attached("False", "Pending", generation=2)), generation=2
        ),
        policy(
            ancestor(condition("True", "Valid", generation=2), attached("True", "Attached", generation=2)), generation=2
        ),
    ]
    assert reads_until_ready(POLICY, sequence) == 2


def test_the_wait_names_every_ancestor_it_waits_for() -> None:
    waiting = policy(
        ancestor(condition("True", "Valid"), attached("True", "Attached")),
        ancestor(condition("True", "Valid"), attached("False", "Pending", "not attached yet"), ref=SUMMARY_REF),
    )
    assert timeout_message(POLICY, waiting, 1.0) == (
        "not ready after 1.0 s: TrafficPolicy kgateway-system/api-key waiting for a final status from every ancestor, "
        "last seen: Gateway kgateway-system/http: Accepted=True (Valid); "
        "StatusSummary: Attached=False (Pending): not attached yet"
    )


def test_timeout_when_no_status_ever_appears() -> None:
    assert timeout_message(POLICY, policy(), 1.0).endswith(
        "TrafficPolicy kgateway-system/api-key waiting for a final status from every ancestor, "
        "last seen: no ancestor status yet"
    )


def test_a_condition_for_an_older_generation_is_not_enough() -> None:
    stale = simple_policy(condition("True", "Valid", generation=1), generation=2)
    fresh = simple_policy(
        condition("False", "Invalid", "no valid API keys found in secrets", generation=2), generation=2
    )
    assert reads_until_ready(POLICY, [stale, stale, fresh]) == 3


def test_stale_condition_in_the_timeout_message() -> None:
    stale = simple_policy(condition("True", "Valid", generation=1), generation=2)
    assert timeout_message(POLICY, stale, 1.0).endswith(
        "last seen: Gateway kgateway-system/http: Accepted=True (Valid) (for an older generation)"
    )


# -- routes and Gateways ---------------------------------------------------------------------------------------


def test_wait_returns_once_every_resource_is_ready() -> None:
    clock = ManualClock()
    reader = Reader(
        {
            POLICY: [policy(), policy(), simple_policy(condition("False", "Invalid", "bad"))],
            ROUTE: [route(({"name": "http", "namespace": "kgateway-system"}, [condition("True", "Accepted")]))],
        }
    )
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "keys", "namespace": "kgateway-system"}}
    wait_for(
        applied_expectations([manifest(POLICY), manifest(ROUTE), secret]),
        reader,
        30,
        clock=clock,
        poll_interval=0.1,
    )
    # A policy rejected as invalid has still been acted on; the route was ready on the first read.
    assert reader.reads == [POLICY, ROUTE, POLICY, POLICY]
    assert clock.sleeps == [0.1, 0.1]


def test_every_parent_of_a_route_must_accept_it() -> None:
    # A second parentRef (a listener a scenario adds) gets its status a moment after the first one.
    refs = [{"name": "http"}, {"name": "http", "sectionName": "http-internal"}]
    first = ({"name": "http", "namespace": "kgateway-system"}, [condition("True", "Accepted")])
    second = (
        {"name": "http", "namespace": "kgateway-system", "sectionName": "http-internal"},
        [condition("True", "Accepted")],
    )
    assert route_accepted(route(first, refs=refs)) == (
        False,
        "Gateway kgateway-system/http: Accepted=True (Accepted); "
        "Gateway kgateway-system/http (http-internal): no Accepted condition yet",
    )
    assert reads_until_ready(ROUTE, [route(first, refs=refs), route(first, second, refs=refs)]) == 2


def test_a_route_whose_rule_kgateway_serves_as_an_error_has_been_acted_on() -> None:
    # A filter naming a TrafficPolicy that does not exist: kgateway v2.3.6 answers the rule with 500 and reports
    # Accepted=False (RouteRuleReplaced) on the route; observed on the real controller (the local target).
    parent = {"name": "http", "namespace": "kgateway-system"}
    replaced = route((parent, [condition("False", "RouteRuleReplaced", "Replaced Rule (0): ... policy not found")]))
    assert route_accepted(replaced)[0]
    assert not route_accepted(route((parent, [condition("False", "NotAllowedByListeners")])))[0]


def test_a_route_status_for_an_older_generation_is_not_enough() -> None:
    parent = {"name": "http", "namespace": "kgateway-system"}
    stale = route((parent, [condition("True", "Accepted", generation=1)]), generation=2)
    fresh = route((parent, [condition("True", "Accepted", generation=2)]), generation=2)
    assert reads_until_ready(ROUTE, [stale, stale, fresh]) == 3


def test_timeout_names_the_route_and_the_last_condition() -> None:
    rejected = route(
        (
            {"name": "http", "namespace": "kgateway-system"},
            [condition("False", "NotAllowedByListeners", "listener does not allow it")],
        )
    )
    assert timeout_message(ROUTE, rejected, 2.0, poll_interval=0.3) == (
        "not ready after 2.0 s: HTTPRoute kgateway-system/httpbin waiting for Accepted=True from every parent (or a "
        "rule served as an error), for this generation, last seen: Gateway kgateway-system/http: Accepted=False "
        "(NotAllowedByListeners): "
        "listener does not allow it"
    )


def test_a_gateway_must_be_accepted_for_its_current_generation() -> None:
    stale = gateway(condition("True", "Accepted", generation=1), generation=2)
    fresh = gateway(condition("True", "Accepted", generation=2), generation=2)
    assert reads_until_ready(GATEWAY, [gateway(), stale, fresh]) == 3


def test_a_gateway_kgateway_serves_as_an_error_has_been_acted_on() -> None:
    """A Gateway-wide policy kgateway cannot apply replaces the Gateway: Accepted=False (GatewayReplaced)."""
    replaced = gateway(condition("False", "GatewayReplaced", "no secrets found", generation=1), generation=1)
    invalid = gateway(condition("False", "Invalid", generation=1), generation=1)
    assert reads_until_ready(GATEWAY, [gateway(), replaced]) == 2
    (expectation,) = applied_expectations([manifest(GATEWAY)])
    assert not expectation.check(invalid)[0]


def test_missing_resource_and_deletion() -> None:
    clock = ManualClock()
    namespace = ObjectRef("v1", "Namespace", None, "team-keys")
    reader = Reader({namespace: [{"status": {"phase": "Terminating"}}, None]})
    wait_for(gone_expectations([namespace]), reader, 5, clock=clock, poll_interval=0.5)
    assert clock.sleeps == [0.5]
    with pytest.raises(
        TimeoutError, match=r"Namespace team-keys waiting for deletion, last seen: still present \(phase Terminating\)"
    ):
        wait_for(
            gone_expectations([namespace]),
            Reader({namespace: [{"status": {"phase": "Terminating"}}]}),
            1,
            clock=clock,
        )


def test_nothing_to_wait_for_returns_at_once() -> None:
    clock = ManualClock()
    wait_for([], Reader({}), 0, clock=clock)
    assert clock.sleeps == []


def _extref_policy(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "gateway.kgateway.dev/v1alpha1",
        "kind": "TrafficPolicy",
        "metadata": {"name": name, "namespace": "team"},
        "spec": {"apiKeyAuth": {"disable": {}}},
    }


def _route_naming(*names: str) -> dict[str, Any]:
    filters = [
        {"type": "ExtensionRef", "extensionRef": {"group": "gateway.kgateway.dev", "kind": "TrafficPolicy", "name": n}}
        for n in names
    ]
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "r", "namespace": "team"},
        "spec": {"parentRefs": [{"name": "http"}], "rules": [{"filters": filters}]},
    }


def test_a_policy_no_route_of_the_change_names_may_keep_its_old_status() -> None:
    """kgateway leaves the last status of a policy nothing attaches any more (for its older generation)."""
    expectations = {
        e.ref.name: e
        for e in applied_expectations([_route_naming("named"), _extref_policy("named"), _extref_policy("loose")])
    }
    stale = simple_policy(condition("True", "Valid", generation=1), generation=2)
    assert expectations["loose"].check(stale)[0]
    assert not expectations["named"].check(stale)[0]  # a route names it: its status must catch up
    assert not expectations["loose"].check(None)[0]
    current = simple_policy(condition("True", "Valid", generation=2), generation=2)
    assert expectations["loose"].check(current)[0] and expectations["named"].check(current)[0]


CRD = ObjectRef("apiextensions.k8s.io/v1", "CustomResourceDefinition", None, "trafficpolicies.gateway.kgateway.dev")


def _crd(*conditions: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": CRD.name}, "status": {"conditions": list(conditions)}}


def test_a_condition_true_wait_ends_when_the_condition_is_true() -> None:
    established = condition_true("Established")
    names_accepted = {"type": "NamesAccepted", "status": "True"}
    assert established(None) == (False, "not found")
    assert established(_crd(names_accepted)) == (False, "no Established condition yet")
    assert established(_crd(names_accepted, {"type": "Established", "status": "False", "reason": "Installing"})) == (
        False,
        "Established=False (Installing)",
    )
    reader = Reader({CRD: [None, _crd(names_accepted), _crd({"type": "Established", "status": "True"})]})
    wait_for([Expectation(CRD, "Established", established)], reader, 60, clock=ManualClock(), poll_interval=0.1)
    assert len(reader.reads) == 3


def test_a_wait_stops_at_once_when_what_it_waits_on_is_gone() -> None:
    clock = ManualClock()
    with pytest.raises(Stopped, match="kgateway exited with code 1"):
        wait_for(
            [Expectation(CRD, "Established", condition_true("Established"))],
            Reader({CRD: [None]}),
            60,
            clock=clock,
            alive=lambda: "kgateway exited with code 1",
        )
    assert clock.time < 1
