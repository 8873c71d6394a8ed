"""The scenario context against the real reference target: expectations count the consecutive responses already
received since the world last changed, and send only what the consistency rule still needs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conformance.client import TargetClient
from conformance.consistency import ConsistencySettings
from conformance.http import Exchange, RequestSpec
from conformance.profiles import PROFILES
from conformance.steps.context import ScenarioContext
from conformance.targets.reference import ReferenceTarget

KEY = "context-key-4f1a"
POLICY = [
    {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "keys", "namespace": "kgateway-system"},
        "stringData": {"c1": KEY},
    },
    {
        "apiVersion": "gateway.kgateway.dev/v1alpha1",
        "kind": "TrafficPolicy",
        "metadata": {"name": "auth", "namespace": "kgateway-system"},
        "spec": {
            "targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "http"}],
            "apiKeyAuth": {"secretRef": {"name": "keys"}},
        },
    },
]


def status(expected: int):
    return lambda exchange: None if exchange.status == expected else f"status {exchange.status}"


@pytest.fixture
def context() -> Iterator[tuple[ScenarioContext, list[Exchange]]]:
    target = ReferenceTarget({})
    target.start()
    settings = ConsistencySettings(3, 0.1, 30, interval_between_matches=0.0)
    client = TargetClient(target, settings)
    scenario = ScenarioContext(client, PROFILES["kgateway"])
    sent: list[Exchange] = []
    send = client.send

    def counting_send(spec: RequestSpec) -> Exchange:
        sent.append(send(spec))
        return sent[-1]

    client.send = counting_send  # type: ignore[method-assign]
    try:
        yield scenario, sent
    finally:
        client.close()
        target.close()


def test_expectations_reuse_the_consecutive_responses_since_the_last_change(context) -> None:
    scenario, sent = context
    scenario.apply(PROFILES["kgateway"].base_manifests("www.example.com"))
    scenario.set_request(RequestSpec("GET", "/headers"))
    scenario.send()  # the When step
    scenario.expect(status(200))
    assert len(sent) == 3  # the When step's response counts: two more make three in a row
    scenario.expect(lambda exchange: None if exchange.upstream_headers() else "no echo")
    assert len(sent) == 3  # the same three responses already satisfy it

    scenario.apply(POLICY)  # the world changed: nothing received before counts, even what would satisfy
    scenario.expect(lambda exchange: None)
    assert len(sent) == 6
    scenario.expect(status(401))
    assert [exchange.status for exchange in sent[3:]] == [401, 401, 401]


def test_a_response_that_fails_an_expectation_is_not_reused_for_it(context) -> None:
    scenario, sent = context
    scenario.apply([*PROFILES["kgateway"].base_manifests("www.example.com"), *POLICY])
    scenario.set_request(RequestSpec("GET", "/headers", headers=(("api-key", KEY),)))
    scenario.send()
    scenario.expect(status(200))
    scenario.set_request(RequestSpec("GET", "/headers"))  # a new request: a new streak
    scenario.expect(lambda exchange: None)
    scenario.expect(status(401))
    assert [exchange.status for exchange in sent] == [200, 200, 200, 401, 401, 401]
