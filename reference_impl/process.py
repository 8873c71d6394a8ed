"""Stopping child processes: ask politely, then insist, and always reap."""

from __future__ import annotations

import subprocess
from typing import Any


def terminate(process: subprocess.Popen[Any], grace: float = 10.0) -> None:
    """SIGTERM, wait up to `grace` seconds, then SIGKILL; the process is reaped either way (no zombies)."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)
