"""A `kubectl port-forward` to a Gateway's Service, run as a subprocess this process owns.

kubectl picks a free local port and prints it; a reader thread keeps draining its output afterwards, since
kubectl logs one line per connection and would block on a full pipe.
"""

from __future__ import annotations

import queue
import re
import shlex
import subprocess
import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import IO, Any

from reference_impl.process import terminate

FORWARDING = re.compile(r"Forwarding from 127\.0\.0\.1:(\d+) ->")

Popen = Callable[..., "subprocess.Popen[str]"]


class PortForward:
    def __init__(self, argv: Sequence[str], *, popen: Popen = subprocess.Popen, start_timeout: float = 30.0):
        self.argv = list(argv)
        self._popen = popen
        self._start_timeout = start_timeout
        self._process: subprocess.Popen[str] | None = None
        self._recent: deque[str] = deque(maxlen=20)
        self.local_port: int | None = None

    def start(self) -> int:
        process = self._popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._process = process
        lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._drain, args=(process.stdout, lines), daemon=True).start()
        while True:
            try:
                line = lines.get(timeout=self._start_timeout)
            except queue.Empty:
                self.stop()
                raise RuntimeError(
                    f"`{shlex.join(self.argv)}` printed no forwarding port within {self._start_timeout:g} s"
                ) from None
            if line is None:
                self.stop()
                output = " | ".join(self._recent) or "no output"
                raise RuntimeError(f"`{shlex.join(self.argv)}` exited: {output}")
            match = FORWARDING.search(line)
            if match:
                self.local_port = int(match.group(1))
                return self.local_port

    def _drain(self, stream: IO[str] | None, lines: queue.Queue[str | None]) -> None:
        # The reader owns the stream: it reads to EOF (the process ended) and closes it, so stop() never closes
        # a file this thread is still reading.
        if stream is not None:
            with stream:
                for line in stream:
                    line = line.rstrip()
                    self._recent.append(line)
                    lines.put(line)
        lines.put(None)

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        terminate(process, grace=5)

    def __enter__(self) -> PortForward:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
