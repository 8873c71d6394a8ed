"""The embedded upstream: the real `httpbin` WSGI app under gunicorn, on a socket we bind and hand over."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import urllib.request

from reference_impl.poll import Stopped, WaitTimeout, poll
from reference_impl.process import terminate


class HttpbinServer:
    """Runs `gunicorn httpbin:app` as a child process. The parent binds the socket first (port 0 = free port)
    and passes it as `fd://`, so the port is known before gunicorn starts and no other process can take it."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, workers: int = 1, threads: int = 16) -> None:
        self.host = host
        self.requested_port = port
        self.workers = workers
        self.threads = threads
        self.port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._socket: socket.socket | None = None
        # gunicorn's stderr goes to a file: a pipe nobody reads could fill up and block it.
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as this server

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("httpbin is not started")
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> str:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.requested_port))
        except OSError as error:
            sock.close()
            raise RuntimeError(f"cannot bind httpbin to {self.host}:{self.requested_port}: {error.strerror}") from None
        sock.listen(1024)
        sock.set_inheritable(True)
        self._socket = sock
        self.port = sock.getsockname()[1]
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"fd://{sock.fileno()}",
            "--workers",
            str(self.workers),
            "--worker-class",
            "gthread",
            "--threads",
            str(self.threads),
            "--log-level",
            "warning",
            "--keep-alive",
            "30",
            "httpbin:app",
        ]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self._process = subprocess.Popen(
            command,
            pass_fds=(sock.fileno(),),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
        )
        self._wait_ready(timeout)
        return self.url

    def _wait_ready(self, timeout: float) -> None:
        def answers() -> str | None:
            try:
                with urllib.request.urlopen(f"{self.url}/status/200", timeout=1) as response:
                    return None if response.status == 200 else f"it answered {response.status}"
            except OSError as error:
                return f"it does not answer yet ({error})"

        def alive() -> str | None:
            if self._process is None or self._process.poll() is None:
                return None
            self._log.seek(0)
            err = self._log.read().decode("utf-8", "replace")
            return f"exited with code {self._process.returncode}: {err[-2000:]}"

        try:
            poll(answers, timeout=timeout, what=f"httpbin on {self.url}", alive=alive)
        except Stopped as error:
            raise RuntimeError(f"httpbin (gunicorn) {error.reason}") from None
        except WaitTimeout:
            self.stop()
            raise RuntimeError(f"httpbin did not answer on {self.url} within {timeout:.0f}s") from None

    def stop(self, *, wait: bool = True) -> None:
        """Stop httpbin; `wait=False` does not wait for gunicorn to exit (it is reaped in the background)."""
        if self._process is not None:
            terminate(self._process, wait=wait)
            self._process = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def __enter__(self) -> HttpbinServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
