"""Reading Accepted conditions in the shapes kgateway, agentgateway and Gateway API write them, and the
waiting logic, driven by a fake status reader and a fake clock."""

from __future__ import annotations

from typing import Any

import pytest

from conformance.kube.conditions import (
    ObjectRef,
    accepted_condition,
    applied_expectations,
    gone_expectations,
    to_policy_condition,
    wait_for,
)
from conformance.targets.base import PolicyCondition

POLICY = ObjectRef("gateway.kgateway.dev/v1alpha1", "TrafficPolicy", "kgateway-system", "api-key")
ROUTE = ObjectRef("gateway.networking.k8s.io/v1", "HTTPRoute", "kgateway-system", "httpbin")


def condition(status: str, reason: str, message: str = "", generation: int | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"type": "Accepted", "status": status, "reason": reason, "message": message}
    if generation is not None:
        found["observedGeneration"] = generation
    return found


def policy(*conditions: dict[str, Any], generation: int = 1) -> dict[str, Any]:
    """A TrafficPolicy / AgentgatewayPolicy as read back: Gateway API PolicyStatus, one ancestor per parent."""
    return {
        "metadata": {"name": "api-key", "generation": generation},
        "status": {
            "ancestors": [
                {
                    "ancestorRef": {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "http"},
                    "controllerName": "kgateway.dev/kgateway",
                    "conditions": [c, {"type": "Attached", "status": "True", "reason": "Attached"}],
                }
                for c in conditions
            ]
        },
    }


def route(*conditions: dict[str, Any], generation: int = 1) -> dict[str, Any]:
    return {
        "metadata": {"generation": generation},
        "status": {"parents": [{"parentRef": {"name": "http"}, "conditions": list(conditions)}]},
    }


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Reader:
    """Returns the next status from a script each time a resource is read (the last one repeats)."""

    def __init__(self, script: dict[ObjectRef, list[dict[str, Any] | None]]) -> None:
        self.script = script
        self.reads: list[ObjectRef] = []

    def __call__(self, ref: ObjectRef) -> dict[str, Any] | None:
        self.reads.append(ref)
        states = self.script[ref]
        return states.pop(0) if len(states) > 1 else states[0]


def test_policy_status_shape() -> None:
    found = accepted_condition(policy(condition("True", "Valid", "Policy accepted")))
    assert found is not None
    assert to_policy_condition(found) == PolicyCondition("Accepted", "True", "Valid", "Policy accepted")


def test_a_rejection_by_any_ancestor_wins() -> None:
    found = accepted_condition(policy(condition("True", "Valid"), condition("False", "Invalid", "no valid API keys")))
    assert found is not None and (found["status"], found["reason"]) == ("False", "Invalid")


def test_agentgateway_partially_valid_is_accepted() -> None:
    found = accepted_condition(policy(condition("True", "PartiallyValid", "Secret keys contains invalid key x")))
    assert found is not None and found["reason"] == "PartiallyValid"


def test_plain_conditions_and_missing_status() -> None:
    assert accepted_condition({"status": {"conditions": [condition("True", "Accepted")]}}) is not None
    assert accepted_condition({"metadata": {}}) is None
    assert accepted_condition(None) is None


def test_wait_returns_once_every_resource_is_ready() -> None:
    clock = FakeClock()
    reader = Reader(
        {
            POLICY: [policy(), policy(), policy(condition("False", "Invalid", "bad"))],
            ROUTE: [route(condition("True", "Accepted"))],
        }
    )
    manifests = [
        {
            "apiVersion": POLICY.api_version,
            "kind": POLICY.kind,
            "metadata": {"name": POLICY.name, "namespace": POLICY.namespace},
        },
        {
            "apiVersion": ROUTE.api_version,
            "kind": ROUTE.kind,
            "metadata": {"name": ROUTE.name, "namespace": ROUTE.namespace},
        },
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "keys", "namespace": "kgateway-system"}},
    ]
    wait_for(applied_expectations(manifests), reader, 30, clock=clock, sleep=clock.sleep, poll_interval=0.1)
    # A policy rejected as invalid has still been acted on; the route was ready on the first read.
    assert reader.reads == [POLICY, ROUTE, POLICY, POLICY]
    assert clock.sleeps == [0.1, 0.1]


def test_timeout_names_the_resource_and_the_last_condition() -> None:
    clock = FakeClock()
    reader = Reader({ROUTE: [route(condition("False", "NotAllowedByListeners", "listener does not allow it"))]})
    expectations = applied_expectations(
        [
            {
                "apiVersion": ROUTE.api_version,
                "kind": "HTTPRoute",
                "metadata": {"name": "httpbin", "namespace": "kgateway-system"},
            }
        ]
    )
    with pytest.raises(TimeoutError) as raised:
        wait_for(expectations, reader, 2.0, clock=clock, sleep=clock.sleep, poll_interval=0.3)
    assert str(raised.value) == (
        "not ready after 2.0 s: HTTPRoute kgateway-system/httpbin waiting for Accepted=True, "
        "last seen: Accepted=False (NotAllowedByListeners): listener does not allow it"
    )
    assert sum(clock.sleeps) == pytest.approx(2.0) and max(clock.sleeps) <= 0.3


def test_timeout_when_no_condition_ever_appears() -> None:
    clock = FakeClock()
    [expectation] = applied_expectations(
        [
            {
                "apiVersion": POLICY.api_version,
                "kind": "TrafficPolicy",
                "metadata": {"name": "api-key", "namespace": "kgateway-system"},
            }
        ]
    )
    with pytest.raises(
        TimeoutError,
        match=r"TrafficPolicy kgateway-system/api-key waiting for an Accepted condition, "
        r"last seen: no Accepted condition yet",
    ):
        wait_for([expectation], Reader({POLICY: [policy()]}), 1.0, clock=clock, sleep=clock.sleep)


def test_a_condition_for_an_older_generation_is_not_enough() -> None:
    clock = FakeClock()
    stale = policy(condition("True", "Valid", generation=1), generation=2)
    fresh = policy(condition("False", "Invalid", "no valid API keys found in secrets", generation=2), generation=2)
    reader = Reader({POLICY: [stale, stale, fresh]})
    [expectation] = applied_expectations(
        [
            {
                "apiVersion": POLICY.api_version,
                "kind": POLICY.kind,
                "metadata": {"name": "api-key", "namespace": "kgateway-system"},
            }
        ]
    )
    wait_for([expectation], reader, 5, clock=clock, sleep=clock.sleep, poll_interval=0.1)
    assert len(reader.reads) == 3


def test_stale_condition_in_the_timeout_message() -> None:
    clock = FakeClock()
    stale = policy(condition("True", "Valid", generation=1), generation=2)
    [expectation] = applied_expectations(
        [
            {
                "apiVersion": POLICY.api_version,
                "kind": POLICY.kind,
                "metadata": {"name": "api-key", "namespace": "kgateway-system"},
            }
        ]
    )
    with pytest.raises(TimeoutError, match=r"last seen: Accepted=True \(Valid\) \(for an older generation\)"):
        wait_for([expectation], Reader({POLICY: [stale]}), 1, clock=clock, sleep=clock.sleep)


def test_missing_resource_and_deletion() -> None:
    clock = FakeClock()
    namespace = ObjectRef("v1", "Namespace", None, "team-keys")
    reader = Reader({namespace: [{"status": {"phase": "Terminating"}}, None]})
    wait_for(gone_expectations([namespace]), reader, 5, clock=clock, sleep=clock.sleep, poll_interval=0.5)
    assert clock.sleeps == [0.5]
    with pytest.raises(
        TimeoutError, match=r"Namespace team-keys waiting for deletion, last seen: still present \(phase Terminating\)"
    ):
        wait_for(
            gone_expectations([namespace]),
            Reader({namespace: [{"status": {"phase": "Terminating"}}]}),
            1,
            clock=clock,
            sleep=clock.sleep,
        )


def test_nothing_to_wait_for_returns_at_once() -> None:
    clock = FakeClock()
    wait_for([], Reader({}), 0, clock=clock, sleep=clock.sleep)
    assert clock.sleeps == []
