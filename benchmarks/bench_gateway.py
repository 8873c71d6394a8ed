"""Throughput of the reference gateway and the cost of one API key decision.

    python benchmarks/bench_gateway.py [--requests 8000] [--rounds 3] [--concurrency 32]

Starts, on 127.0.0.1 only:
  * a minimal keep-alive HTTP/1.1 upstream (raw asyncio on uvloop) answering `200 ok`, in its own process;
  * the reference gateway (uvicorn + httptools + uvloop, aiohttp upstream pool) in its own process, with one
    kgateway Gateway and two HTTPRoutes to that upstream: host `auth.bench` guarded by a TrafficPolicy
    (`api-key` header, 1,000 keys), host `open.bench` with no policy;
and drives them from this process with an aiohttp client at a fixed concurrency and a fixed request count:
  (a) through the gateway WITH auth, (b) through the gateway WITHOUT auth, (c) direct to the upstream,
in interleaved rounds, reporting the median requests/s of each.
Then it times `kgateway.decide` and `agentgateway.decide` in-process with timeit, for 1, 10,000 and 100,000 keys.

Every phase has a time cap, so the whole run stays well under a minute; a capped phase is flagged in the table.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import secrets
import statistics
import subprocess
import sys
import time
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from reference_impl.process import terminate  # noqa: E402  (after the path set-up above)

HOST = "127.0.0.1"
GATEWAY_KEYS = 1_000
BENCH_KEY = "bench-client-key-0001"
DECISION_CALLS = 30_000  # per timeit run; best of 5 runs


# ---------------------------------------------------------------------------------------------------------------
# Child process roles
# ---------------------------------------------------------------------------------------------------------------
RESPONSE = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok"


async def _upstream_main() -> None:
    """A minimal HTTP/1.1 server: reads request heads (and Content-Length bodies), answers 200 "ok", keeps alive."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lower = head.lower()
                index = lower.find(b"\r\ncontent-length:")
                if index >= 0:
                    length = int(lower[index + 17 : lower.index(b"\r\n", index + 2)].strip())
                    if length:
                        await reader.readexactly(length)
                writer.write(RESPONSE)
                if b"\r\nconnection: close" in lower:
                    await writer.drain()
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, HOST, 0, backlog=2048)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


def _gateway_manifests(upstream_keys: int) -> list[dict]:
    listeners = [{"name": "http", "port": 8080, "allowedRoutes": {"namespaces": {"from": "All"}}}]

    def route(name: str, host: str) -> dict:
        return {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "HTTPRoute",
            "metadata": {"name": name, "namespace": "bench"},
            "spec": {
                "parentRefs": [{"name": "gw"}],
                "hostnames": [host],
                "rules": [{"backendRefs": [{"name": "upstream", "port": 80}]}],
            },
        }

    keys = {f"client-{i:05d}": f"key-{i:05d}-{secrets.token_hex(8)}" for i in range(upstream_keys - 1)}
    keys["bench-client"] = BENCH_KEY
    return [
        {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "Gateway",
            "metadata": {"name": "gw", "namespace": "bench"},
            "spec": {"gatewayClassName": "kgateway", "listeners": listeners},
        },
        route("with-auth", "auth.bench"),
        route("without-auth", "open.bench"),
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "keys", "namespace": "bench"}, "stringData": keys},
        {
            "apiVersion": "gateway.kgateway.dev/v1alpha1",
            "kind": "TrafficPolicy",
            "metadata": {"name": "auth", "namespace": "bench"},
            "spec": {
                "targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": "with-auth"}],
                "apiKeyAuth": {"secretRef": {"name": "keys"}},
            },
        },
    ]


async def _gateway_main(upstream_port: int) -> None:
    from reference_impl.compile.snapshot import BackendMap
    from reference_impl.gateway.server import GatewayServer
    from reference_impl.resources import parse_manifest
    from reference_impl.store import Store

    store = Store(BackendMap({"upstream": f"http://{HOST}:{upstream_port}"}))
    store.apply([parse_manifest(d) for d in _gateway_manifests(GATEWAY_KEYS)])
    condition = store.status("TrafficPolicy", "bench", "auth")
    assert condition is not None and condition.reason == "Valid", condition
    server = GatewayServer(store, host=HOST)
    await server.start({8080: 0}, admin_port=None)
    print(server.ports[8080], flush=True)
    await server.wait()


def _run_child(role: str, *args: str) -> tuple[subprocess.Popen[str], int]:
    process = subprocess.Popen(
        [sys.executable, __file__, "--role", role, *args],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.strip().isdigit():
        process.kill()
        raise RuntimeError(f"{role} process did not start (got {line!r})")
    return process, int(line)


def _stop(process: subprocess.Popen[str]) -> None:
    terminate(process, grace=5)


# ---------------------------------------------------------------------------------------------------------------
# Load generator
# ---------------------------------------------------------------------------------------------------------------
async def _load(port: int, host_header: str, headers: dict[str, str], total: int, concurrency: int, cap: float):
    """Send `total` GET requests with `concurrency` workers on pooled keep-alive connections.
    Returns (completed, seconds, non-200 count, capped?)."""
    import aiohttp

    url = f"http://{HOST}:{port}/bench"
    request_headers = {"Host": host_header, **headers}
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one() -> int:
            async with session.get(url, headers=request_headers) as response:
                await response.read()
                return response.status

        for _ in range(min(500, total)):  # warm-up: connections opened, code paths hot
            await one()

        remaining = total
        done = 0
        bad = 0
        started = time.perf_counter()
        deadline = started + cap

        async def worker() -> None:
            nonlocal remaining, done, bad
            while remaining > 0 and time.perf_counter() < deadline:
                remaining -= 1
                status = await one()
                done += 1
                bad += status != 200

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return done, elapsed, bad, done < total


# ---------------------------------------------------------------------------------------------------------------
# Decision cost
# ---------------------------------------------------------------------------------------------------------------
def _decision_costs(sizes: tuple[int, ...]) -> list[tuple[str, int, str, float]]:
    from reference_impl.auth import agentgateway, kgateway
    from reference_impl.auth.decision import RequestParts
    from reference_impl.auth.keys import Identity, KeyIndex, digest

    rows = []
    for size in sizes:
        keys = [f"k{i:07d}-{'x' * 24}" for i in range(size)]
        kg_index = KeyIndex({digest(k): f"client-{i}" for i, k in enumerate(keys)})
        ag_index = KeyIndex({digest(k): Identity("Secret bench/keys", f"client-{i}") for i, k in enumerate(keys)})
        kg_auth = kgateway.KgatewayAuth(
            sources=(kgateway.Source("header", b"api-key"),),
            clients=kg_index,
            forward_credential=False,
            client_id_header=b"x-client-id",
            policy="bench/auth",
        )
        ag_auth = agentgateway.AgentgatewayAuth(
            mode="Strict", location=agentgateway.DEFAULT_LOCATION, keys=ag_index, policy="bench/auth"
        )
        valid = keys[size // 2].encode()
        common = [(b"host", b"auth.bench"), (b"user-agent", b"bench"), (b"accept", b"*/*")]
        cases = [
            ("kgateway", "valid", kgateway.decide, kg_auth, RequestParts([*common, (b"api-key", valid)])),
            ("kgateway", "invalid", kgateway.decide, kg_auth, RequestParts([*common, (b"api-key", b"nope")])),
            (
                "agentgateway",
                "valid",
                agentgateway.decide,
                ag_auth,
                RequestParts([*common, (b"authorization", b"Bearer " + valid)]),
            ),
            (
                "agentgateway",
                "invalid",
                agentgateway.decide,
                ag_auth,
                RequestParts([*common, (b"authorization", b"Bearer nope")]),
            ),
        ]
        for dialect, outcome, decide, auth, request in cases:
            result = decide(auth, request)
            assert (getattr(result, "client", None) is not None) == (outcome == "valid"), (dialect, outcome)
            timer = timeit.Timer(lambda d=decide, a=auth, r=request: d(a, r))
            best = min(timer.repeat(repeat=5, number=DECISION_CALLS)) / DECISION_CALLS
            rows.append((dialect, size, outcome, best * 1e6))
    return rows


# ---------------------------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--role", choices=["upstream", "gateway"], help=argparse.SUPPRESS)
    parser.add_argument("--upstream-port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--requests", type=int, default=8_000, help="requests per scenario and round (default 8000)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3; the median is shown)")
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent client connections (default 32)")
    parser.add_argument("--cap", type=float, default=8.0, help="time cap per scenario and round in seconds (default 8)")
    parser.add_argument("--skip-http", action="store_true", help="only measure the decision cost")
    args = parser.parse_args()

    try:
        import uvloop
    except ImportError:  # pragma: no cover
        uvloop = None
    run = uvloop.run if uvloop else asyncio.run

    if args.role == "upstream":
        run(_upstream_main())
        return 0
    if args.role == "gateway":
        run(_gateway_main(args.upstream_port))
        return 0

    started = time.perf_counter()
    print(f"# reference gateway benchmark — Python {platform.python_version()}, {os.cpu_count()} CPU(s), "
          f"{platform.machine()}")  # fmt: skip
    throughput = []
    if not args.skip_http:
        upstream, upstream_port = _run_child("upstream")
        try:
            gateway, gateway_port = _run_child("gateway", "--upstream-port", str(upstream_port))
            try:
                scenarios = [
                    ("(a) gateway, route WITH kgateway auth", gateway_port, "auth.bench", {"api-key": BENCH_KEY}),
                    ("(b) gateway, route WITHOUT auth", gateway_port, "open.bench", {}),
                    ("(c) direct to the upstream", upstream_port, "upstream", {}),
                ]
                results: dict[str, list[tuple[int, float, int, bool]]] = {label: [] for label, *_ in scenarios}
                for _ in range(args.rounds):  # interleaved, so drift on a shared machine hits every scenario
                    for label, port, host, headers in scenarios:
                        results[label].append(
                            run(_load(port, host, headers, args.requests, args.concurrency, args.cap))
                        )
                throughput = list(results.items())
            finally:
                _stop(gateway)
        finally:
            _stop(upstream)

        print(f"\n## Throughput: {args.rounds} interleaved rounds of {args.requests} GET requests per scenario, "
              f"concurrency {args.concurrency}, aiohttp client, keep-alive")  # fmt: skip
        print(f"{'scenario':<40} {'median req/s':>12} {'min':>7} {'max':>7} {'requests':>9} {'non-200':>8}")
        for label, runs in throughput:
            rates = sorted(done / elapsed for done, elapsed, _, _ in runs)
            total = sum(done for done, *_ in runs)
            bad = sum(b for _, _, b, _ in runs)
            flag = "  (time cap hit)" if any(capped for *_, capped in runs) else ""
            print(
                f"{label:<40} {statistics.median(rates):>12.0f} {rates[0]:>7.0f} {rates[-1]:>7.0f} "
                f"{total:>9} {bad:>8}{flag}"
            )

    rows = _decision_costs((1, 10_000, 100_000))
    print("\n## Decision cost: one call of the pure decision function (best of 5 timeit runs of 30,000 calls)")
    print(f"{'dialect':<14} {'keys':>8} {'presented key':<14} {'µs/decision':>12}")
    for dialect, size, outcome, micros in rows:
        print(f"{dialect:<14} {size:>8} {outcome:<14} {micros:>12.2f}")
    print(f"\ntotal wall time {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
