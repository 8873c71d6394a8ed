"""Gateway API's eventual-consistency rule: an expectation holds after N consecutive matches, polled, within a limit."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

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

    @classmethod
    def from_env(cls) -> ConsistencySettings:
        return cls(
            int(os.environ.get("APIKEY_CONFORMANCE_CONSECUTIVE_SUCCESSES", "3")),
            float(os.environ.get("APIKEY_CONFORMANCE_POLL_INTERVAL", "0.1")),
            float(os.environ.get("APIKEY_CONFORMANCE_MAX_TIME_TO_CONSISTENCY", "30")),
        )


class NotConsistent(AssertionError):
    """The expectation did not hold for the required consecutive attempts within the time limit."""


def eventually(
    attempt: Callable[[], T],
    check: Callable[[T], str | None],
    settings: ConsistencySettings,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    matched: int = 0,
) -> T:
    """Call `attempt` until `check` (None = match, else why not) passes N times in a row; return the last result.
    `matched`: how many attempts just before this call already passed (their streak continues here)."""
    deadline = clock() + settings.max_time_to_consistency
    streak, attempts = matched, 0
    last_problem = "no attempt was made"
    while True:
        result = attempt()
        attempts += 1
        problem = check(result)
        if problem is None:
            streak += 1
            if streak >= settings.required_consecutive_successes:
                return result
        else:
            streak, last_problem = 0, problem
        if clock() >= deadline:
            raise NotConsistent(
                f"not consistent after {settings.max_time_to_consistency:g}s ({attempts} attempts, needed "
                f"{settings.required_consecutive_successes} consecutive matches): {last_problem}"
            )
        if problem is not None:
            sleep(settings.poll_interval)
        else:
            between = (
                settings.poll_interval
                if settings.interval_between_matches is None
                else settings.interval_between_matches
            )
            if between:
                sleep(between)
