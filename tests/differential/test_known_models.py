"""What long differential runs found, now the reference gateway's own behaviour, checked against the real Envoy;
and the known-divergence mechanism, with an entry of its own."""

from __future__ import annotations

import pytest
from diffsupport import kgateway_world

import conformance.differential.runner as runner
from conformance.differential import DifferentialSettings, KnownDivergence, run_differential
from conformance.differential.model import Case, Difference, RequestOutcome
from conformance.differential.pair import TargetPair
from conformance.http import RequestSpec

KEY = "model-key-7d1e"


@pytest.fixture(scope="module")
def reference_and_envoy():
    pair = TargetPair(("reference", "envoy"), ({}, {}), "kgateway")
    pair.start()
    yield pair
    pair.close()


def both(pair: TargetPair, request: RequestSpec):
    reference, envoy = pair.send(request)
    assert reference.status == envoy.status, (reference.status, envoy.status)
    return reference, envoy


def test_hidden_cookie_credentials_rebuild_the_cookie_header_as_envoy_does(reference_and_envoy: TargetPair) -> None:
    pair = reference_and_envoy
    pair.load(kgateway_world(key_sources=[{"header": "x-api-key"}, {"query": "api_key"}, {"cookie": "tok"}]))
    request = RequestSpec(
        path="/anything/a",
        headers=(("x-api-key", KEY), ("Cookie", "e=5; flag")),
        query=(("z", "1"), ("api_key", "other"), ("b", "%26x"), ("a", "q+r"), ("b", "2")),
        cookies=(("theme", '"dark"'), ("tok", "x"), ("a", "1")),
    )
    reference, envoy = both(pair, request)
    assert reference.upstream is not None and envoy.upstream is not None
    assert reference.upstream.query == envoy.upstream.query == "a=q+r&b=&x&b=2&z=1"
    # every Cookie line merged, quotes removed, pieces without '=' dropped, the credential gone
    assert reference.upstream.header("cookie") == envoy.upstream.header("cookie") == ("e=5; theme=dark; a=1",)


@pytest.mark.parametrize(
    ("lines", "status"),
    [
        ((("Authorization", KEY), ("Authorization", KEY)), 401),  # Envoy reads one value: "key,key"
        ((("Authorization", ""), ("Authorization", KEY)), 200),  # empty lines are left out of the joined value
    ],
)
def test_a_repeated_authorization_header_is_one_value_as_in_envoy(reference_and_envoy: TargetPair, lines, status):
    pair = reference_and_envoy
    pair.load(kgateway_world(key_sources=[{"header": "Authorization"}], forwardCredential=True))
    reference, envoy = both(pair, RequestSpec(path="/anything/a", headers=lines))
    assert reference.status == status
    if status == 200:
        assert reference.upstream.header("authorization") == envoy.upstream.header("authorization") == (KEY,)


def test_a_client_id_header_that_is_also_a_key_source_is_removed_with_the_credential(reference_and_envoy) -> None:
    pair = reference_and_envoy
    pair.load(kgateway_world(key_sources=[{"header": "api-key"}, {"header": "x-api-key"}], clientIdHeader="x-api-key"))
    reference, envoy = both(pair, RequestSpec(path="/anything/a", headers=(("api-key", KEY),)))
    assert reference.status == 200
    assert reference.upstream.header("x-api-key") == envoy.upstream.header("x-api-key") == ()


def credential_on_one_side(case: Case, outcome: RequestOutcome) -> list[Difference]:
    """A known divergence of the test's own: what one upstream received in a header, a cookie or the query,
    the other did not (one side hid the credential, the other kept it)."""
    return [d for d in outcome.differences if d.aspect in ("upstream header", "upstream query")]


def test_a_known_divergence_is_listed_and_not_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reference against reference with forwardCredential ignored on one side: the key reaches one upstream and
    not the other. With an entry explaining exactly that, the run lists it and does not fail."""
    entry = KnownDivergence(
        id="test-forwarded-credential",
        title="one side ignores forwardCredential",
        reason="injected for this test",
        source="tests/differential/test_known_models.py",
        status="test",
        explains=credential_on_one_side,
    )
    monkeypatch.setattr(runner, "KNOWN", (entry,))
    for seed in range(1, 8):
        settings = DifferentialSettings(
            targets=("reference", "reference"),
            examples=40,
            seed=seed,
            target_options=({"fault": "ignore-forward-credential"}, {}),
        )
        result = run_differential(settings)
        if result.known[entry.id].requests:
            break
    assert result.known[entry.id].requests > 0
    assert not result.failed, [d.signature for d in result.unknown]


def test_the_selector_wording_of_kgateway_2_3_is_explained_and_nothing_else() -> None:
    from conformance.differential.known import KNOWN
    from conformance.differential.model import Observation

    (entry,) = [e for e in KNOWN if e.id == "kgateway-2.3-selector-wording"]
    prefix = "Accepted=False reason Invalid: no secrets found matching selector"
    newest = f"{prefix} (matchLabels: map[set:x], matchExpressions: []) in namespace ns"
    older = f"{prefix} map[set:x] in namespace ns"
    wording = Difference("policy status", newest, older, "TrafficPolicy ns/p")
    reversed_sides = Difference("policy status", older, newest, "TrafficPolicy ns/p")
    other_label = Difference("policy status", newest, older.replace("set:x", "set:y"), "TrafficPolicy ns/p")
    accepted = Difference("policy status", newest, "Accepted=True reason Valid: Policy accepted", "TrafficPolicy ns/p")
    status = Difference("status", "500", "401")
    seen = Observation(500, None, None, None)
    outcome = RequestOutcome(RequestSpec(), seen, seen, [wording, reversed_sides, other_label, accepted, status])
    assert entry.explains(Case("kgateway", (), ()), outcome) == [wording, reversed_sides]
