"""The one wait loop (reference_impl.poll): deadline, backoff, a dead process ends the wait, clear messages."""

from __future__ import annotations

import pytest

from reference_impl.poll import ManualClock, Stopped, WaitTimeout, poll


def test_it_returns_as_soon_as_nothing_is_pending():
    answers = iter(["starting", "starting", None])
    fake = ManualClock()
    poll(lambda: next(answers), timeout=10, what="x", interval=0.5, clock=fake)
    assert fake.sleeps == [0.5, 0.5]


def test_the_pause_backs_off_up_to_a_limit_and_never_past_the_deadline():
    fake = ManualClock()
    with pytest.raises(WaitTimeout) as caught:
        poll(
            lambda: "not yet",
            timeout=1.0,
            what="x",
            interval=0.1,
            backoff=2,
            max_interval=0.3,
            clock=fake,
        )
    assert fake.sleeps[:4] == [0.1, 0.2, 0.3, 0.3]
    assert sum(fake.sleeps) == pytest.approx(1.0)  # the last pause is cut to the deadline
    assert str(caught.value) == "x not done after 1.0 s: not yet" and caught.value.pending == "not yet"


def test_a_callable_interval_is_asked_each_time():
    fake = ManualClock()
    pauses = iter([0.0, 0.25, 0.0])
    answers = iter(["a", "b", "c", None])
    poll(lambda: next(answers), timeout=10, what="x", interval=lambda: next(pauses), clock=fake)
    assert fake.sleeps == [0.25]  # a zero pause does not sleep


def test_what_can_never_happen_ends_the_wait_at_once():
    fake = ManualClock()
    with pytest.raises(Stopped) as caught:
        poll(
            lambda: "waiting",
            timeout=60,
            what="envoy",
            alive=lambda: "exited with code 1",
            clock=fake,
        )
    assert str(caught.value) == "envoy: exited with code 1" and caught.value.reason == "exited with code 1"
    assert fake.sleeps == []


def test_the_timeout_error_can_be_the_callers_own():
    fake = ManualClock()
    with pytest.raises(LookupError, match="3 attempts: still b"):
        poll(
            iter(["a", "b", "b"]).__next__,
            timeout=1.0,
            what="x",
            interval=0.5,
            on_timeout=lambda pending, _, attempts: LookupError(f"{attempts} attempts: still {pending}"),
            clock=fake,
        )
