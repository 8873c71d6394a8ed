"""`serve --workers N`: N gateway processes sharing the listening sockets, one event loop each.

One Python process serves on one core; to use more, the supervising process binds every listener socket once and
starts N workers that inherit them (the kernel spreads connections across the processes accepting on a socket).
Each worker loads and watches the folder itself, so a key rotation reaches every worker within its own reload.
The supervisor serves the admin endpoint: policy status from its own copy of the folder, per-client counters
summed from what the workers report every half second, and a worker that dies is reported and restarted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from reference_impl.gateway.observe import Counters
from reference_impl.health import Health
from reference_impl.process import terminate

log = logging.getLogger("reference_impl.workers")
STATS_INTERVAL = 0.5
RESTART_DELAYS = (0.5, 1.0, 2.0, 5.0)


def socket_arg(sockets: Mapping[int, socket.socket]) -> str:
    """`8080:5,80:6`: listener port -> inherited file descriptor."""
    return ",".join(f"{port}:{sock.fileno()}" for port, sock in sorted(sockets.items()))


def parse_socket_arg(value: str) -> dict[int, socket.socket]:
    found = {}
    for item in value.split(","):
        port, _, fd = item.partition(":")
        found[int(port)] = socket.socket(fileno=int(fd))
    return found


async def report_counters(counters: Counters, fd: int, stop: asyncio.Event) -> None:
    """Worker side: write this worker's counters to the supervisor as one JSON line, every half second."""
    with os.fdopen(fd, "w", buffering=1) as pipe:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), STATS_INTERVAL)
            try:
                pipe.write(json.dumps(counters.snapshot()) + "\n")
            except BrokenPipeError:
                return


@dataclass
class Worker:
    index: int
    process: subprocess.Popen[bytes]
    reader: asyncio.Task[None] | None = None
    restarts: int = 0


@dataclass
class Supervisor:
    """Starts and watches the workers; merges their counters into `counters` for the admin endpoint."""

    command: Sequence[str]  # the worker command line, without the socket and stats arguments
    sockets: Mapping[int, socket.socket]
    count: int
    counters: Counters
    workers: list[Worker] = field(default_factory=list)
    _latest: dict[int, dict] = field(default_factory=dict)
    _retired: list[dict] = field(default_factory=list)  # last counts of workers that exited: they still count
    _down: dict[int, str] = field(default_factory=dict)
    _stopping: bool = False

    async def start(self) -> None:
        for index in range(self.count):
            self.workers.append(await self._spawn(index))

    async def _spawn(self, index: int, restarts: int = 0) -> Worker:
        read_fd, write_fd = os.pipe()
        fds = [sock.fileno() for sock in self.sockets.values()]
        for fd in fds:
            os.set_inheritable(fd, True)
        argv = [*self.command, "--worker-sockets", socket_arg(self.sockets), "--worker-stats-fd", str(write_fd)]
        process = subprocess.Popen(argv, pass_fds=(*fds, write_fd))
        os.close(write_fd)
        worker = Worker(index, process, restarts=restarts)
        worker.reader = asyncio.get_running_loop().create_task(self._read_stats(index, read_fd))
        log.info("worker %d started (pid %d)", index, process.pid)
        return worker

    async def _read_stats(self, index: int, fd: int) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb"))
        try:
            while line := await reader.readline():
                self._latest[index] = json.loads(line)
                self.counters.replace(self._total())
        finally:
            transport.close()

    def _total(self) -> dict:
        total: dict[str, dict[str, dict[str, int]]] = {}
        for snapshot in [*self._retired, *self._latest.values()]:
            for policy, clients in snapshot.items():
                for client, counts in clients.items():
                    into = total.setdefault(policy, {}).setdefault(client, {"allowed": 0, "denied": 0})
                    into["allowed"] += counts["allowed"]
                    into["denied"] += counts["denied"]
        return total

    async def watch(self, stop: asyncio.Event) -> None:
        """Restart a worker that exits while the gateway is not stopping."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.2)
            for position, worker in enumerate(self.workers):
                code = worker.process.poll()
                if code is None or self._stopping or stop.is_set():
                    continue
                delay = RESTART_DELAYS[min(worker.restarts, len(RESTART_DELAYS) - 1)]
                self._down[worker.index] = f"worker {worker.index} exited with code {code}; restarting in {delay:g}s"
                self._retired.append(self._latest.pop(worker.index, {}))
                log.error("%s", self._down[worker.index])
                await asyncio.sleep(delay)
                self.workers[position] = await self._spawn(worker.index, worker.restarts + 1)
                self._down.pop(worker.index, None)

    def health(self) -> Health:
        return Health(fatal=tuple(self._down.values()))

    async def stop(self) -> None:
        self._stopping = True
        for worker in self.workers:
            if worker.process.poll() is None:
                worker.process.send_signal(signal.SIGTERM)
        await asyncio.gather(*(asyncio.to_thread(terminate, w.process, 5.0) for w in self.workers))
        for worker in self.workers:
            if worker.reader is not None:
                worker.reader.cancel()


def worker_command(argv: Sequence[str], extra: Sequence[str] = ()) -> list[str]:
    """The supervisor's own command line turned into a worker's: same folder and options, no admin, no httpbin
    (the supervisor runs it), no start-up refusal (the supervisor decided already)."""
    skip_with_value = {"--workers", "--admin-port", "--httpbin-port"}
    command = [sys.executable, "-m", "reference_impl.cli"]
    args = list(argv)
    i = 0
    while i < len(args):
        arg = args[i]
        name = arg.split("=", 1)[0]
        if name in skip_with_value:
            i += 1 if "=" in arg else 2
            continue
        if arg == "--httpbin":
            i += 1
            continue
        command.append(arg)
        i += 1
    return [*command, *extra, "--admin-port", "-1", "--allow-rejected"]
