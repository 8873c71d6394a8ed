"""Waiting until something holds: one loop for every wait, with a deadline, a backoff, a check that what it waits on
is still alive, and an error that says what was awaited and what was last seen.

The clock is injectable (`Clock`), so a wait's timing and messages are tested without sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float: ...
    def sleep(self, seconds: float) -> None: ...


@dataclass(frozen=True)
class SystemClock:
    now: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


SYSTEM: Clock = SystemClock()


class ManualClock:
    """A clock that moves only when a wait sleeps on it: a wait's timing and messages, tested without waiting."""

    def __init__(self, start: float = 0.0) -> None:
        self.time = start
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.time

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.time += seconds


class WaitTimeout(TimeoutError):
    """What was awaited did not happen in time; the message names it and what was last seen (`pending`)."""

    def __init__(self, message: str, pending: str = "") -> None:
        super().__init__(message)
        self.pending = pending


class Stopped(RuntimeError):
    """What was awaited can no longer happen (a process exited); the message says why (`reason`)."""

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason


def poll(
    probe: Callable[[], str | None],
    *,
    timeout: float,
    what: str,
    interval: float | Callable[[], float] = 0.05,
    backoff: float = 1.0,
    max_interval: float | None = None,
    alive: Callable[[], str | None] | None = None,
    on_timeout: Callable[[str, float, int], BaseException] | None = None,
    clock: Clock = SYSTEM,
) -> None:
    """Call `probe` until it returns None; until then it returns what is still pending.

    `interval`: the pause after a pending answer (a callable is asked each time), multiplied by `backoff` after
    each one, up to `max_interval`. `alive`: asked before each pause; a reason means the wait can never end, and
    raises Stopped with it at once. At the deadline: WaitTimeout("<what> not done after <s> s: <last pending>"),
    or whatever `on_timeout(last pending, elapsed, attempts)` returns."""
    start = clock.now()
    deadline = start + timeout
    pause = None
    attempts = 0
    while True:
        pending = probe()
        attempts += 1
        if pending is None:
            return
        if alive is not None:
            reason = alive()
            if reason:
                raise Stopped(f"{what}: {reason}", reason)
        now = clock.now()
        if now >= deadline:
            if on_timeout is not None:
                raise on_timeout(pending, now - start, attempts)
            raise WaitTimeout(f"{what} not done after {now - start:.1f} s: {pending}", pending)
        step = interval() if callable(interval) else interval
        pause = step if pause is None or callable(interval) else pause * backoff
        if max_interval is not None:
            pause = min(pause, max_interval)
        if pause > 0:
            clock.sleep(max(0.0, min(pause, deadline - now)))
