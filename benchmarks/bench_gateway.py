"""The reference gateway and Envoy 1.40 side by side, in one run: every figure benchmarks/README.md explains.

    python benchmarks/bench_gateway.py             # 2-3 minutes; writes benchmarks/results/latest.*
    python benchmarks/bench_gateway.py --quick     # a smoke run of every phase (about 1 minute)
    python benchmarks/bench_gateway.py --candidates  # also the server x upstream-client table (1 more minute)
    python benchmarks/bench_gateway.py --phases throughput,candidates   # some phases only

Phases (each starts and stops its own processes, on 127.0.0.1, and is capped in time):
  throughput  wrk -t1 -c32 against the reference gateway (CLI defaults; --log-level warning; --workers 2) and Envoy
              --concurrency 1 with the same kgateway policy (1,000 keys), interleaved rounds, medians
  candidates  (with --candidates) the ASGI app on {project server, uvicorn} x {project pool, aiohttp}
  keys        requests/s, start-up to the first 200 and RSS at 1, 10,000 and 100,000 keys, reference and Envoy
  decision    the per-call cost of the pure decision functions at those sizes (timeit)
  rotation_visible     time from rewriting the Secret to the new key passing (1,000 keys)
  rotation_under_load  request latency around a rotation at 100,000 keys under a steady load
  suites      the conformance suite: reference target, and the kgateway profile on the Envoy target
The upstream everywhere is Envoy answering 200 itself (a direct_response route) on one worker thread.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import timeit
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import harness, report  # noqa: E402  (after the path set-up above)
from benchmarks.harness import BENCH_CLIENT, Processes, free_port  # noqa: E402
from conformance.client import TargetClient  # noqa: E402
from conformance.targets.envoy import EnvoyTarget  # noqa: E402
from reference_impl.poll import poll  # noqa: E402

KEY_SIZES = (1, 10_000, 100_000)
POLICY_KEYS = 1_000


@dataclass
class Settings:
    rounds: int = 3
    seconds: float = 5.0  # per wrk run in the throughput phases
    short_seconds: float = 3.0  # per wrk run in the key-count phase
    rotations: int = 10
    decision_calls: int = 30_000
    decision_repeat: int = 5
    load_rate: float = 1_000.0  # requests/s of the steady load around a rotation
    load_connections: int = 8
    suite_timeout: float = 240.0

    @classmethod
    def quick(cls) -> Settings:
        return cls(rounds=1, seconds=2.0, short_seconds=1.0, rotations=3, decision_calls=3_000, decision_repeat=3)


@dataclass
class Run:
    """What every phase needs: settings, the private work folder, Envoy, and the shared upstream."""

    settings: Settings
    tmp: Path
    envoy: str
    upstream_url: str = ""
    results: dict[str, Any] = field(default_factory=dict)

    def folder(self, name: str, keys: dict[str, str]) -> Path:
        return harness.write_folder(self.tmp / name, keys)


@dataclass
class Server:
    """A gateway (or Envoy) serving the bench route, and what it took to start."""

    name: str
    port: int
    pid: int
    startup_s: float
    rss_mib: float
    folder: Path | None = None
    envoy: TargetClient | None = None  # the Envoy target, driven as the suite drives it
    translate_s: float | None = None


# -- starting the things being measured --------------------------------------------------------------------------
def start_upstream(run: Run, processes: Processes) -> None:
    port = free_port()
    command = harness.envoy_command(run.envoy, run.tmp / "upstream", harness.upstream_bootstrap(port))
    process = processes.start(command, run.tmp / "upstream.log")
    harness.wait_for_status(port, "", harness.exited(process), timeout=30)
    run.upstream_url = f"http://127.0.0.1:{port}"


def start_reference(run: Run, processes: Processes, name: str, keys: dict[str, str], *options: str) -> Server:
    """`apikey-gateway serve FOLDER`, its stderr (the access log) going to a file in the work folder."""
    folder = run.folder(name, keys)
    port = free_port()
    command = harness.gateway_command(folder, port, run.upstream_url, *options)
    process, startup = harness.start_and_wait(processes, command, run.tmp / f"{name}.log", port, keys[BENCH_CLIENT])
    return Server(name, port, process.pid, startup, harness.rss_mib(process.pid)[0], folder=folder)


def start_envoy(run: Run, processes: Processes, name: str, keys: dict[str, str]) -> Server:
    """The Envoy target (one worker thread, no httpbin: the bench upstream is its Service), its xDS files staged
    before Envoy starts; start-up counts from Envoy's start (the translation, done before, is reported on its
    own)."""
    target = EnvoyTarget(
        {
            "work_dir": run.tmp / name,
            "backends": {harness.UPSTREAM_SERVICE: run.upstream_url},
            "httpbin": False,
            "concurrency": 1,
        }
    )
    processes.callback(target.close)
    manifests = [d for text in harness.manifest_texts(keys) for d in yaml.load_all(text, Loader=harness.YAML_LOADER)]
    staged = time.perf_counter()
    target.stage(manifests)
    translate_s = time.perf_counter() - staged
    started = time.monotonic()
    target.start()
    assert target.pid is not None
    port = int(target.base_url(harness.LISTENER_PORT).rsplit(":", 1)[1])
    alive = lambda: None if target.running() else f"envoy exited: {target.log_tail()}"  # noqa: E731
    startup = harness.wait_for_status(port, keys[BENCH_CLIENT], alive, timeout=60) - started
    client = TargetClient(target)
    return Server(
        name, port, target.pid, startup, harness.rss_mib(target.pid)[0], envoy=client, translate_s=translate_s
    )


def start_child(processes: Processes, run: Run, role: str, config: dict[str, Any]) -> tuple[subprocess.Popen[str], str]:
    """This script in another role (a candidate server, the timed load client); config on stdin (it may hold
    keys), the first line it prints returned."""
    log = (run.tmp / f"{role}.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, __file__, "--role", role],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    log.close()
    processes.callback(harness.terminate, process, 5.0)
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(json.dumps(config))
    process.stdin.close()
    process.stdin = None  # closed: communicate() must not flush it
    line = process.stdout.readline().strip()
    if not line:
        raise RuntimeError(f"{role} process did not start; see {role}.log")
    return process, line


# -- 1. throughput and latency -----------------------------------------------------------------------------------
def interleaved_wrk(
    run: Run, targets: dict[str, int], key: str, deadline: float, pids: dict[str, int] | None = None
) -> dict[str, list[dict]]:
    """A warm-up, then rounds of wrk over every target in turn, so drift on a shared machine hits them alike. With
    `pids`, each round also records the target's CPU time (user + system) per request: what a request costs the
    gateway, which the cores it shares with wrk and the upstream do not blur as they blur req/s."""
    rounds: dict[str, list[dict]] = {name: [] for name in targets}
    for port in targets.values():
        harness.run_wrk(port, key, 1, run.tmp)
    for _ in range(run.settings.rounds):
        if time.monotonic() > deadline:
            break
        for name, port in targets.items():
            pid = (pids or {}).get(name)
            before = harness.cpu_seconds(pid) if pid else 0.0
            result = asdict(harness.run_wrk(port, key, run.settings.seconds, run.tmp))
            if pid and result["requests"]:
                result["cpu_us_per_request"] = (harness.cpu_seconds(pid) - before) / result["requests"] * 1e6
            rounds[name].append(result)
    return rounds


def medians(rounds: list[dict]) -> dict[str, float | None]:
    cpu = [r["cpu_us_per_request"] for r in rounds if "cpu_us_per_request" in r]
    return {
        "requests_per_s": statistics.median(r["requests_per_s"] for r in rounds),
        "p50_ms": statistics.median(r["p50_ms"] for r in rounds),
        "p99_ms": statistics.median(r["p99_ms"] for r in rounds),
        "max_ms": max(r["max_ms"] for r in rounds),
        "non_2xx": sum(r["non_2xx"] + r["socket_errors"] for r in rounds),
        "cpu_us_per_request": statistics.median(cpu) if cpu else None,
    }


THROUGHPUT_CONFIGS = {
    "reference": "reference gateway, auth, CLI defaults (access log to a file)",
    "reference-warning": "reference gateway, auth, --log-level warning",
    "reference-workers-2": "reference gateway, auth, CLI defaults, --workers 2",
    "envoy": "Envoy 1.40 --concurrency 1, same policy (translated)",
}


def measure_throughput(run: Run) -> dict[str, Any]:
    keys = harness.make_keys(POLICY_KEYS)
    with Processes() as processes:
        servers = {
            "reference": start_reference(run, processes, "tp-reference", keys),
            "reference-warning": start_reference(run, processes, "tp-warning", keys, "--log-level", "warning"),
            "reference-workers-2": start_reference(run, processes, "tp-workers", keys, "--workers", "2"),
            "envoy": start_envoy(run, processes, "tp-envoy", keys),
        }
        deadline = time.monotonic() + 2 * len(servers) * run.settings.rounds * (run.settings.seconds + 2)
        ports, pids = {n: s.port for n, s in servers.items()}, {n: s.pid for n, s in servers.items()}
        rounds = interleaved_wrk(run, ports, keys[BENCH_CLIENT], deadline, pids)
        with (run.tmp / "tp-reference.log").open("rb") as log:
            logged = sum(1 for _ in log)
    configs = {name: {"label": THROUGHPUT_CONFIGS[name], "rounds": r, **medians(r)} for name, r in rounds.items() if r}
    return {"configurations": configs, "access_log_lines": logged, "keys": POLICY_KEYS}


def measure_candidates(run: Run) -> dict[str, Any]:
    from benchmarks.candidates import PROXIES, SERVERS

    keys = harness.make_keys(POLICY_KEYS)
    folder = run.folder("candidates", keys)
    with Processes() as processes:
        targets = {}
        for server in SERVERS:
            for proxy in PROXIES:
                config = {"folder": str(folder), "upstream": run.upstream_url, "server": server, "proxy": proxy}
                process, port = start_child(processes, run, "candidate", config)
                harness.wait_for_status(int(port), keys[BENCH_CLIENT], harness.exited(process), timeout=30)
                targets[f"{server}+{proxy}"] = int(port)
        deadline = time.monotonic() + 2 * len(targets) * run.settings.rounds * (run.settings.seconds + 2)
        rounds = interleaved_wrk(run, targets, keys[BENCH_CLIENT], deadline)
    return {name: {"rounds": r, **medians(r)} for name, r in rounds.items() if r}


# -- 2 and 3. key-count scaling, start-up and memory -------------------------------------------------------------
def measure_keys(run: Run) -> list[dict[str, Any]]:
    """For each key count and each of the reference gateway (CLI defaults) and Envoy: start it, time the first
    200, read its RSS, then one short wrk run."""
    rows = []
    for size in KEY_SIZES:
        keys = harness.make_keys(size)
        for target, start in (("reference", start_reference), ("envoy", start_envoy)):
            with Processes() as processes:
                server = start(run, processes, f"keys-{target}-{size}", keys)
                result = harness.run_wrk(server.port, keys[BENCH_CLIENT], run.settings.short_seconds, run.tmp)
                rows.append(
                    {
                        "keys": size,
                        "target": target,
                        "startup_s": server.startup_s,
                        "rss_mib": server.rss_mib,
                        "peak_rss_mib": harness.rss_mib(server.pid)[1],
                        "translate_s": server.translate_s,
                        "requests_per_s": result.requests_per_s,
                        "p99_ms": result.p99_ms,
                        "non_2xx": result.non_2xx + result.socket_errors,
                    }
                )
    return rows


def measure_decision_cost(run: Run) -> list[dict[str, Any]]:
    """µs per call of kgateway.decide and agentgateway.decide, valid and invalid key (best of N timeit runs)."""
    from reference_impl.auth import agentgateway, kgateway
    from reference_impl.auth.decision import RequestParts
    from reference_impl.auth.keys import Identity, KeyIndex, digest

    rows = []
    for size in KEY_SIZES:
        keys = [harness.new_key() for _ in range(size)]
        kg_auth = kgateway.KgatewayAuth(
            sources=(kgateway.Source("header", b"api-key"),),
            clients=KeyIndex({digest(k): f"client-{i}" for i, k in enumerate(keys)}),
            forward_credential=False,
            client_id_header=b"x-client-id",
            policy="bench/auth",
        )
        ag_auth = agentgateway.AgentgatewayAuth(
            mode="Strict",
            location=agentgateway.DEFAULT_LOCATION,
            keys=KeyIndex({digest(k): Identity("Secret bench/keys", f"client-{i}") for i, k in enumerate(keys)}),
            policy="bench/auth",
        )
        valid = keys[size // 2].encode()
        common = [(b"host", b"bench.example"), (b"user-agent", b"bench"), (b"accept", b"*/*")]
        cases = [
            ("kgateway", "valid", kgateway.decide, kg_auth, [(b"api-key", valid)]),
            ("kgateway", "invalid", kgateway.decide, kg_auth, [(b"api-key", b"nope")]),
            ("agentgateway", "valid", agentgateway.decide, ag_auth, [(b"authorization", b"Bearer " + valid)]),
            ("agentgateway", "invalid", agentgateway.decide, ag_auth, [(b"authorization", b"Bearer nope")]),
        ]
        for dialect, presented, decide, auth, extra in cases:
            request = RequestParts([*common, *extra])
            allowed = getattr(decide(auth, request), "client", None) is not None
            assert allowed == (presented == "valid"), (dialect, presented)  # the case measures what it says
            timer = timeit.Timer(lambda d=decide, a=auth, r=request: d(a, r))
            calls = run.settings.decision_calls
            best = min(timer.repeat(repeat=run.settings.decision_repeat, number=calls)) / calls
            rows.append({"dialect": dialect, "keys": size, "presented": presented, "us": best * 1e6})
    return rows


# -- 4. rotation -------------------------------------------------------------------------------------------------
def poll_until_passes(probe: harness.Probe, key: str, timeout: float) -> float:
    passed: list[float] = []

    def passes() -> str | None:
        if probe.status(key) == 200:
            passed.append(time.monotonic())
            return None
        return "the rotated key does not pass yet"

    poll(passes, timeout=timeout, what="the rotated key", interval=0.001)
    return passed[0]


def rotate_reference(server: Server, keys: dict[str, str], fresh: str) -> float:
    """The Secret file rewritten with one more key (replacing the last rotation's): temp file, then rename."""
    assert server.folder is not None
    secret = harness.secret_manifest({**keys, "rotated": fresh})
    return harness.replace_atomically(server.folder / harness.SECRET_FILE, secret)


def rotate_envoy(server: Server, keys: dict[str, str], fresh: str) -> float:
    """The same Secrets applied through the Envoy target, as the suite applies them: parse, translate, rewrite the
    xDS files. The clock starts before the translation: it is the control plane's share of the rotation."""
    assert server.envoy is not None
    secrets = list(yaml.load_all(harness.secret_manifest({**keys, "rotated": fresh}), Loader=harness.YAML_LOADER))
    started = time.monotonic()
    server.envoy.target.apply(secrets)  # not waited for: the probe measures when the key passes
    return started


ROTATORS: dict[str, tuple[Callable[..., Server], Callable[[Server, dict[str, str], str], float]]] = {
    "reference": (start_reference, rotate_reference),
    "envoy": (start_envoy, rotate_envoy),
}


def measure_rotation_visible(run: Run) -> dict[str, Any]:
    """At 1,000 keys: time from the rewrite to the first request the new key passes, several rotations."""
    results = {}
    keys = harness.make_keys(POLICY_KEYS)
    for target, (start, rotate) in ROTATORS.items():
        with Processes() as processes:
            server = start(run, processes, f"rotate-{target}", keys)
            probe = harness.Probe(server.port)
            times = []
            for _ in range(run.settings.rotations):
                fresh = harness.new_key()
                rewritten = rotate(server, keys, fresh)
                times.append((poll_until_passes(probe, fresh, timeout=30) - rewritten) * 1000)
                time.sleep(0.2)  # let the watcher settle before the next rewrite
            probe.close()
        results[target] = {"keys": POLICY_KEYS, "ms": times, "median_ms": statistics.median(times)}
    return results


def measure_rotation_under_load(run: Run) -> dict[str, Any]:
    """At 100,000 keys: a steady paced load (a key that stays valid) from another process, one rotation in the
    middle; per-request latency before and while the rotation is applied, and when the new key first passed."""
    results = {}
    keys = harness.make_keys(100_000)
    before, after, cap = 1.0, 1.0, 30.0
    for target, (start, rotate) in ROTATORS.items():
        with Processes() as processes:
            server = start(run, processes, f"load-{target}", keys)
            fresh = harness.new_key()
            config = {
                "port": server.port,
                "key": keys[BENCH_CLIENT],
                "probe_key": fresh,
                "rate": run.settings.load_rate,
                "connections": run.settings.load_connections,
                "seconds": before + cap,
                "after_visible": after,
            }
            load, _ = start_child(processes, run, "load", config)
            time.sleep(before)
            rewritten = rotate(server, keys, fresh)
            output, _ = load.communicate(timeout=before + cap + 30)
        timeline = json.loads(output)
        results[target] = summarize_timeline(timeline, rewritten, before)
    return results


def summarize_timeline(timeline: dict[str, Any], rewritten: float, before: float) -> dict[str, Any]:
    """Times relative to the rewrite. `during`: requests started from the rewrite to the end of the window (the
    new key visible, plus a second for anything the swap leaves behind); `baseline`: the second before."""
    samples = [(start - rewritten, latency * 1000, status) for start, latency, status in timeline["samples"]]
    visible = timeline["visible_at"] - rewritten if timeline["visible_at"] is not None else None
    baseline = [ms for t, ms, _ in samples if -before + 0.2 <= t < 0]
    during = [ms for t, ms, _ in samples if t >= 0]
    return {
        "keys": 100_000,
        "visible_ms": visible * 1000 if visible is not None else None,
        "max_ms_during": max(during, default=0.0),
        "p99_ms_during": percentile(during, 99),
        "max_ms_baseline": max(baseline, default=0.0),
        "p99_ms_baseline": percentile(baseline, 99),
        "requests_during": len(during),
        "non_200": sum(1 for *_, status in samples if status != 200),
        "timeline": [(round(t, 4), round(ms, 3)) for t, ms, _ in samples],
    }


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


# -- 5. the conformance suite -----------------------------------------------------------------------------------
SUITES = {
    "reference": [],
    "reference-kgateway": ["--profile", "kgateway"],
    "envoy-kgateway": ["--target", "envoy", "--profile", "kgateway"],
}


def measure_suites(run: Run) -> dict[str, Any]:
    results = {}
    script = Path(sys.executable).with_name("apikey-conformance")
    program = [str(script)] if script.exists() else [sys.executable, "-m", "conformance.cli"]
    for name, options in SUITES.items():
        command = [*program, *options, f"--conformance-report={run.tmp / f'suite-{name}.yaml'}"]
        started = time.monotonic()
        done = subprocess.run(command, capture_output=True, text=True, timeout=run.settings.suite_timeout, cwd=run.tmp)
        results[name] = {
            "command": " ".join(["apikey-conformance", *options]),
            "wall_s": time.monotonic() - started,
            "returncode": done.returncode,
            **report.pytest_summary(done.stdout),
        }
    return results


# -- the run -----------------------------------------------------------------------------------------------------
PHASES: dict[str, Callable[[Run], Any]] = {
    "throughput": measure_throughput,
    "candidates": measure_candidates,
    "keys": measure_keys,
    "decision": measure_decision_cost,
    "rotation_visible": measure_rotation_visible,
    "rotation_under_load": measure_rotation_under_load,
    "suites": measure_suites,
}


def run_phases(run: Run, names: list[str]) -> None:
    for name in names:
        started = time.monotonic()
        print(f"[{time.strftime('%H:%M:%S')}] {name} ...", file=sys.stderr, flush=True)
        try:
            run.results[name] = PHASES[name](run)
        except Exception as error:  # one broken phase must not cost the figures of the others
            traceback.print_exc()
            run.results.setdefault("errors", {})[name] = f"{type(error).__name__}: {error}"
        print(f"[{time.strftime('%H:%M:%S')}] {name} done in {time.monotonic() - started:.0f}s", file=sys.stderr)


def child(role: str) -> int:
    """A role run in a child process; its configuration arrives on stdin."""
    import uvloop

    config = json.loads(sys.stdin.read())
    if role == "candidate":
        from benchmarks.candidates import serve_candidate

        uvloop.run(serve_candidate(Path(config["folder"]), config["upstream"], config["server"], config["proxy"], 8080))
        return 0
    print("started", flush=True)
    timeline = uvloop.run(
        harness.timed_load(
            config["port"],
            config["key"],
            config["probe_key"],
            config["rate"],
            config["connections"],
            config["seconds"],
            config["after_visible"],
        )
    )
    print(json.dumps(asdict(timeline)))
    return 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a short smoke run; writes results/quick.* instead")
    parser.add_argument("--candidates", action="store_true", help="also measure the server x upstream-client table")
    parser.add_argument("--phases", help=f"comma list of phases to run (default all): {', '.join(PHASES)}")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results", help="results folder")
    parser.add_argument("--no-readme", action="store_true", help="do not update the figures in benchmarks/README.md")
    parser.add_argument("--render", type=Path, metavar="JSON", help="only write the tables and chart of a saved run")
    parser.add_argument("--role", choices=["candidate", "load"], help=argparse.SUPPRESS)
    return parser.parse_args()


def measure(args: argparse.Namespace) -> dict[str, Any]:
    harness.require_wrk()
    envoy = harness.envoy_binary()
    names = args.phases.split(",") if args.phases else [n for n in PHASES if n != "candidates" or args.candidates]
    unknown = set(names) - set(PHASES)
    if unknown:
        raise SystemExit(f"--phases: unknown {', '.join(sorted(unknown))}; choose from {', '.join(PHASES)}")
    settings = Settings.quick() if args.quick else Settings()
    machine = report.machine(envoy)
    if machine["load_average_start"][0] > 1.0:
        busy = f"load average {machine['load_average_start'][0]:.2f} at start"
        print(f"warning: {busy}: absolute figures will be low and noisy; compare the ratios", file=sys.stderr)
    started = time.monotonic()
    with harness.work_dir() as tmp, Processes() as processes:
        run = Run(settings, tmp, envoy)
        start_upstream(run, processes)
        run_phases(run, names)
    machine["load_average_end"] = list(os.getloadavg())
    machine["wall_s"] = time.monotonic() - started
    every_phase = not args.phases
    return {
        "machine": machine,
        "settings": {**asdict(settings), "quick": args.quick, "complete": every_phase},
        **run.results,
    }


def publish(results: dict[str, Any], output: Path, readme: bool) -> None:
    """The tables to stdout and results/<latest|quick|partial>.md, the JSON, the chart; only a complete full run
    replaces the published figures (results/latest.* and benchmarks/README.md)."""
    text = report.markdown(results)
    print(text)
    quick, complete = results["settings"]["quick"], results["settings"]["complete"]
    name = "quick" if quick else "latest" if complete else "partial"
    written = report.write(results, text, output, name)
    if readme and name == "latest":
        report.update_readme(ROOT / "benchmarks" / "README.md", text)
        written.append(ROOT / "benchmarks" / "README.md")
    print("wrote " + ", ".join(str(p) for p in written), file=sys.stderr)


def main() -> int:
    args = parse_args()
    if args.role:
        return child(args.role)
    results = json.loads(args.render.read_text()) if args.render else measure(args)
    publish(results, args.output, readme=not args.no_readme)
    return 1 if results.get("errors") else 0


if __name__ == "__main__":
    sys.exit(main())
