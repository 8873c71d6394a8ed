"""Gateway API's eventual-consistency rule: an expectation holds after N consecutive matches, polled, within a limit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from reference_impl.poll import SYSTEM, Clock, poll

T = TypeVar("T")


@dataclass(frozen=True)
class ConsistencySettings:
    required_consecutive_successes: int = 3
    poll_interval: float = 0.1
    max_time_to_consistency: float = 30.0
    # Pause between matching attempts; None = poll_interval. A target that applies changes synchronously
    # (the in-process reference gateway) re-checks back to back: there is no propagation to wait out.
    interval_between_matches: float | None = None

    def __post_init__(self) -> None:
        if self.required_consecutive_successes < 1:
            raise ValueError("required consecutive successes must be at least 1")
        if self.poll_interval < 0 or self.max_time_to_consistency <= 0:
            raise ValueError("poll interval must be >= 0 and max time to consistency > 0")


class NotConsistent(AssertionError):
    """The expectation did not hold for the required consecutive attempts within the time limit."""


def eventually(
    attempt: Callable[[], T],
    check: Callable[[T], str | None],
    settings: ConsistencySettings,
    *,
    clock: Clock = SYSTEM,
    matched: int = 0,
) -> T:
    """Call `attempt` until `check` (None = match, else why not) passes N times in a row; return the last result.
    `matched`: how many attempts just before this call already passed (their streak continues here)."""
    needed = settings.required_consecutive_successes
    between = settings.poll_interval if settings.interval_between_matches is None else settings.interval_between_matches
    streak, last_problem = matched, "no attempt was made"
    results: list[T] = []

    def probe() -> str | None:
        nonlocal streak, last_problem
        result = attempt()
        results[:] = [result]
        problem = check(result)
        if problem is None:
            streak += 1
            return None if streak >= needed else f"{streak} of {needed} consecutive matches"
        streak, last_problem = 0, problem
        return problem

    def not_consistent(_pending: str, _elapsed: float, attempts: int) -> NotConsistent:
        return NotConsistent(
            f"not consistent after {settings.max_time_to_consistency:g}s ({attempts} attempts, needed "
            f"{needed} consecutive matches): {last_problem}"
        )

    poll(
        probe,
        timeout=settings.max_time_to_consistency,
        what="an expectation",
        interval=lambda: between if streak else settings.poll_interval,
        on_timeout=not_consistent,
        clock=clock,
    )
    return results[0]
