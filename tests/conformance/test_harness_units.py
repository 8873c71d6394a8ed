"""Unit tests of the harness's pure parts: consistency polling, feature lists, request tables."""

from __future__ import annotations

import pytest

from conformance.consistency import ConsistencySettings, NotConsistent, eventually
from conformance.profiles import PROFILES, feature_selected, parse_feature_list
from conformance.steps.requests import request_from_table
from reference_impl.poll import ManualClock


def test_eventually_needs_the_required_consecutive_matches() -> None:
    outcomes = iter([False, True, False, True, True, True, True])
    clock = ManualClock()
    attempts = []

    def attempt() -> bool:
        value = next(outcomes)
        attempts.append(value)
        return value

    settings = ConsistencySettings(3, 0.1, 30)
    eventually(attempt, lambda ok: None if ok else "no", settings, clock=clock)
    assert attempts == [False, True, False, True, True, True]  # a mismatch resets the streak


def test_eventually_gives_up_after_the_max_time_with_the_last_reason() -> None:
    clock = ManualClock()
    settings = ConsistencySettings(3, 0.5, 2)
    with pytest.raises(NotConsistent) as failure:
        eventually(lambda: 401, lambda s: f"expected 200, got {s}", settings, clock=clock)
    assert "expected 200, got 401" in str(failure.value)
    assert "2s" in str(failure.value) and "3 consecutive" in str(failure.value)
    assert all(s == 0.5 for s in clock.sleeps)


def test_eventually_spacing_between_matches_is_configurable() -> None:
    clock = ManualClock()
    eventually(lambda: 1, lambda _: None, ConsistencySettings(3, 0.1, 30), clock=clock)
    assert clock.sleeps == [0.1, 0.1]
    clock = ManualClock()
    settings = ConsistencySettings(3, 0.1, 30, interval_between_matches=0.0)
    eventually(lambda: 1, lambda _: None, settings, clock=clock)
    assert clock.sleeps == []


def test_eventually_continues_a_streak_begun_before_it_and_restarts_it_after_a_mismatch() -> None:
    settings = ConsistencySettings(3, 0.1, 30)
    clock = ManualClock()
    attempts: list[bool] = []

    def attempt(outcomes):
        def next_outcome() -> bool:
            attempts.append(next(outcomes))
            return attempts[-1]

        return next_outcome

    ok = lambda value: None if value else "no"  # noqa: E731
    eventually(attempt(iter([True])), ok, settings, clock=clock, matched=2)
    assert attempts == [True]
    attempts.clear()
    outcomes = iter([False, True, True, True])
    eventually(attempt(outcomes), ok, settings, clock=clock, matched=2)
    assert attempts == [False, True, True, True]  # the earlier two matches do not survive a mismatch


@pytest.mark.parametrize("bad", [dict(required_consecutive_successes=0), dict(max_time_to_consistency=0)])
def test_consistency_settings_reject_nonsense(bad: dict) -> None:
    with pytest.raises(ValueError):
        ConsistencySettings(**bad)


def test_feature_lists_accept_plain_and_profile_qualified_names() -> None:
    names = parse_feature_list("APIKeyAuth, agentgateway/APIKeyAuthHashedKeys")
    assert names is not None
    assert feature_selected(names, "kgateway", "APIKeyAuth")
    assert feature_selected(names, "agentgateway", "APIKeyAuthHashedKeys")
    assert not feature_selected(names, "kgateway", "APIKeyAuthHashedKeys")
    assert parse_feature_list("all") is None
    with pytest.raises(ValueError, match="APIKeyAuthNope"):
        parse_feature_list("APIKeyAuthNope")


def test_every_profile_feature_is_a_known_feature() -> None:
    from conformance.profiles import FEATURES

    for profile in PROFILES.values():
        assert set(profile.features) <= set(FEATURES)
        assert len(set(profile.features)) == len(profile.features)


def test_request_tables_build_the_request_and_reject_mistakes() -> None:
    table = [
        ["part", "name", "value"],
        ["header", "api-key", "Bearer k"],
        ["query", "api_key", "q"],
        ["cookie", "c", "v"],
        ["host", "", "h.example.com"],
        ["listener", "", "8081"],
    ]
    spec = request_from_table("GET", "/anything", table)
    assert spec.target() == "/anything?api_key=q"
    assert ("Cookie", "c=v") in spec.header_list()
    assert ("Host", "h.example.com") in spec.header_list()
    assert spec.listener_port == 8081
    with pytest.raises(AssertionError, match="header row"):
        request_from_table("GET", "/", [["name", "value"]])
    with pytest.raises(AssertionError, match="'body'"):
        request_from_table("GET", "/", [["part", "name", "value"], ["body", "x", "y"]])
