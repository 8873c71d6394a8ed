"""Stopping child processes: ask politely, then insist, and always reap."""

from __future__ import annotations

import subprocess
import threading
from typing import Any


def terminate(process: subprocess.Popen[Any], grace: float = 10.0, *, wait: bool = True) -> None:
    """SIGTERM, wait up to `grace` seconds, then SIGKILL; the process is reaped either way (no zombies).
    `wait=False` returns once the signal is sent and reaps in a background thread: for a caller that has nothing
    left to do with the process (gunicorn takes about a quarter of a second to wind down)."""
    if process.poll() is not None:
        return
    process.terminate()
    if not wait:
        threading.Thread(target=_reap, args=(process, grace), name="reap", daemon=True).start()
        return
    _reap(process, grace)


def _reap(process: subprocess.Popen[Any], grace: float) -> None:
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)
