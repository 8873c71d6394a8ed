"""A real Kubernetes API server on this machine: etcd and kube-apiserver as processes on 127.0.0.1, started the way
controller-runtime's envtest starts them (its default flags, self-made certificates, an admin kubeconfig).

There is no controller manager, scheduler or kubelet: objects are stored, validated (OpenAPI schemas, CEL rules)
and watched exactly as on a cluster, but a deleted namespace stays Terminating and no Pod ever runs.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from conformance.envoy.process import free_ports
from conformance.local.pki import Pki, kubeconfig, make_pki
from reference_impl.poll import Stopped, WaitTimeout, poll
from reference_impl.process import terminate

log = logging.getLogger("conformance.local")


@dataclass
class Process:
    """A child process with its log file."""

    name: str
    argv: list[str]
    log_path: Path
    env: dict[str, str] | None = None
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as out:
            self.popen = subprocess.Popen(
                self.argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=self.env
            )

    def exited(self) -> str | None:
        """Why it is not running any more, or None while it runs."""
        if self.popen is None or self.popen.poll() is None:
            return None
        return f"{self.name} exited with code {self.popen.returncode}: {self.tail()}"

    def tail(self, lines: int = 15) -> str:
        try:
            return " | ".join(self.log_path.read_text(errors="replace").strip().splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        popen, self.popen = self.popen, None
        if popen is not None:
            terminate(popen, 10.0)


def wait_ready(process: Process, ready: Callable[[], str | None], timeout: float, what: str) -> None:
    """Until `ready()` says nothing is pending; a clear error if the process dies or time runs out."""
    try:
        poll(ready, timeout=timeout, what=what, interval=0.05, backoff=1.5, max_interval=0.5, alive=process.exited)
    except Stopped as error:
        raise RuntimeError(error.reason) from None
    except WaitTimeout as error:
        raise RuntimeError(f"{what} was not ready within {timeout:.0f} s ({error.pending}): {process.tail()}") from None


class ControlPlane:
    """etcd and kube-apiserver in `work_dir`; `kubeconfig` reaches the API server as an admin."""

    def __init__(self, etcd: Path, kube_apiserver: Path, work_dir: Path) -> None:
        self.binaries = {"etcd": etcd, "kube-apiserver": kube_apiserver}
        self.work_dir = work_dir
        self.etcd: Process | None = None
        self.apiserver: Process | None = None
        self.pki: Pki | None = None
        self.url = ""
        self.kubeconfig = work_dir / "kubeconfig"

    def start(self, timeout: float = 60.0, attempts: int = 3) -> None:
        """Start both; a port taken by another process between choosing and binding it means another try."""
        for attempt in range(1, attempts + 1):
            try:
                self._start(timeout)
                return
            except RuntimeError as error:
                self.stop()
                if "address already in use" not in str(error) or attempt == attempts:
                    raise
                log.info("a port was taken meanwhile; starting again with others")

    def _start(self, timeout: float) -> None:
        started = time.monotonic()
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.pki = pki = make_pki(self.work_dir / "certs")
        client, peer, secure = free_ports(3)
        shutil.rmtree(self.work_dir / "etcd-data", ignore_errors=True)
        etcd_url = f"http://127.0.0.1:{client}"
        self.etcd = Process(
            "etcd",
            [
                str(self.binaries["etcd"]),
                "--name=local",
                f"--data-dir={self.work_dir / 'etcd-data'}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-cluster=local=http://127.0.0.1:{peer}",
                "--unsafe-no-fsync=true",  # envtest's choice: a throwaway store need not survive a power cut
                "--log-level=warn",
            ],
            self.work_dir / "etcd.log",
        )
        self.etcd.start()
        wait_ready(self.etcd, lambda: _http_ready(f"{etcd_url}/health", b'"health":"true"'), timeout, "etcd")
        self.url = f"https://127.0.0.1:{secure}"
        self.apiserver = Process(
            "kube-apiserver",
            [
                str(self.binaries["kube-apiserver"]),
                f"--etcd-servers={etcd_url}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                "--endpoint-reconciler-type=none",  # the `kubernetes` Service would point at loopback, refused
                f"--secure-port={secure}",
                f"--cert-dir={pki.folder}",
                f"--tls-cert-file={pki.server_cert}",
                f"--tls-private-key-file={pki.server_key}",
                f"--client-ca-file={pki.ca}",
                "--service-cluster-ip-range=10.0.0.0/24",
                "--allow-privileged=true",
                "--disable-admission-plugins=ServiceAccount",
                "--authorization-mode=RBAC",
                f"--service-account-issuer={self.url}/",
                f"--service-account-key-file={pki.sa_public}",
                f"--service-account-signing-key-file={pki.sa_private}",
            ],
            self.work_dir / "kube-apiserver.log",
        )
        self.apiserver.start()
        context = self.ssl_context()
        left = max(1.0, timeout - (time.monotonic() - started))
        wait_ready(self.apiserver, lambda: _http_ready(f"{self.url}/readyz", b"ok", context), left, "kube-apiserver")
        kubeconfig(pki, self.url, self.kubeconfig)
        log.info("API server ready in %.1f s (%s)", time.monotonic() - started, self.url)

    def ssl_context(self) -> ssl.SSLContext:
        assert self.pki is not None, "start() first"
        context = ssl.create_default_context(cafile=str(self.pki.ca))
        context.load_cert_chain(str(self.pki.admin_cert), str(self.pki.admin_key))
        return context

    def version(self) -> str:
        """The API server's own gitVersion (/version)."""
        with urllib.request.urlopen(f"{self.url}/version", context=self.ssl_context(), timeout=5) as response:
            return str(json.load(response)["gitVersion"])

    def problems(self) -> str | None:
        """Why the control plane is not running any more, or None."""
        for process in (self.etcd, self.apiserver):
            reason = process.exited() if process is not None else None
            if reason:
                return reason
        return None

    def stop(self) -> None:
        for process in (self.apiserver, self.etcd):
            if process is not None:
                process.stop()
        self.apiserver = self.etcd = None


def _http_ready(url: str, expected: bytes, context: ssl.SSLContext | None = None) -> str | None:
    try:
        with urllib.request.urlopen(url, context=context, timeout=2) as response:
            body = response.read()
    except OSError as error:
        return f"{url}: {error}"
    return None if expected in body else f"{url} answered {body[:200]!r}"


# -- a controller out of cluster ---------------------------------------------------------------------------------
#: The ports kgateway and agentgateway both fix (setup.go, wellknown/ports.go of each): one controller per machine.
CONTROLLER_PORTS = {9092: "metrics", 9093: "health probes", 9095: "admin"}


def busy_ports(ports: dict[int, str]) -> list[str]:
    """Those of `ports` something on this machine holds, as "<port> (<what>)"."""
    taken = []
    for port, what in ports.items():
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Go's listeners: TIME_WAIT is no owner
            try:
                sock.bind(("0.0.0.0", port))
            except OSError:
                taken.append(f"{port} ({what})")
    return taken


@dataclass
class ControllerProcess:
    """A controller binary run out of cluster against the API server of `kubeconfig`, with the settings of
    `environment()`; ready once its health port answers /readyz."""

    name: ClassVar[str]
    fixed_ports: ClassVar[dict[int, str]] = CONTROLLER_PORTS

    binary: Path
    kubeconfig: Path
    work_dir: Path
    xds_port: int
    log_level: str = "info"
    process: Process | None = None

    def settings(self) -> dict[str, str]:
        """The controller's own settings (its environment variables)."""
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig), **self.settings()}

    def start(self, timeout: float = 120.0) -> None:
        taken = busy_ports({**self.fixed_ports, self.xds_port: "xDS"})
        if taken:
            raise RuntimeError(
                f"{self.name} needs ports that are in use: {', '.join(taken)} (its own are fixed and the same as "
                "the other controller's, so one agentgateway or kgateway controller runs per machine; is another "
                "run or controller already running?)"
            )
        self.work_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.work_dir / f"{self.name}.log"
        self.process = Process(self.name, [str(self.binary)], log_path, self.environment())
        self.process.start()
        wait_ready(self.process, _controller_ready, timeout, f"the {self.name} controller")

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None

    def exited(self) -> str | None:
        return self.process.exited() if self.process is not None else None


def _controller_ready() -> str | None:
    try:
        with urllib.request.urlopen("http://127.0.0.1:9093/readyz", timeout=2) as response:
            return None if response.status == 200 else f"readyz answered {response.status}"
    except OSError as error:
        return f"readyz: {error}"
