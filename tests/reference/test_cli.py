"""`apikey-gateway` as a real subprocess: serve + watch (key rotation without restart), keygen, validate."""

from __future__ import annotations

import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from refsupport import EXAMPLES, GUIDE_KEY, KG_401, ROOT, fetch

from reference_impl.resources import ConfigMap, Secret, load_manifests

ENV = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def cli(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reference_impl.cli", *args],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=timeout,
        check=False,
    )


class Running:
    """A `serve` subprocess whose stderr is collected line by line in a thread."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "reference_impl.cli", "serve", *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=ENV,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float = 30) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                found = re.search(pattern, line)
                if found:
                    return found
            if self.process.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.02)
        raise AssertionError(f"no stderr line matching {pattern!r}; got:\n" + "\n".join(self.lines))

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._reader.join(5)
        return self.process.returncode


def eventually(check, timeout: float = 10, consecutive: int = 3) -> None:
    """Conformance-style: the expectation holds `consecutive` times in a row, polled every 100 ms."""
    deadline = time.monotonic() + timeout
    streak = 0
    last = None
    while time.monotonic() < deadline:
        last = check()
        streak = streak + 1 if last is True else 0
        if streak >= consecutive:
            return
        time.sleep(0.1)
    raise AssertionError(f"expectation not met within {timeout}s; last result: {last!r}")


@pytest.fixture
def kgateway_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "manifests"
    shutil.copytree(EXAMPLES / "kgateway", folder)
    return folder


@pytest.fixture
def serving(kgateway_folder: Path) -> Iterator[tuple[Running, str, Path]]:
    running = Running(str(kgateway_folder), "--httpbin", "--listen", "0:8080", "--admin-port", "0")
    try:
        port = running.wait_for(r"listener port 8080 on http://127\.0\.0\.1:(\d+)").group(1)
        yield running, f"http://127.0.0.1:{port}", kgateway_folder
    finally:
        assert running.stop() == 0, "\n".join(running.lines)


SECRET_TEMPLATE = """apiVersion: v1
kind: Secret
metadata:
  name: apikey
  namespace: kgateway-system
stringData:
  api-key: {key}
"""


def status_with(base: str, key: str | None) -> int:
    headers = {"api-key": f"Bearer {key}"} if key else None
    return fetch(base, "/headers", headers=headers).status


def test_serve_guide_flow_rotation_and_broken_edit(serving):
    running, base, folder = serving

    denied = fetch(base, "/headers")
    assert (denied.status, denied.body) == (401, KG_401)
    allowed = fetch(base, "/headers", headers={"api-key": f"Bearer {GUIDE_KEY}"})
    assert allowed.status == 200
    assert "api-key" not in {k.lower() for k in allowed.json()["headers"]}

    # rotate the key by editing the Secret file while the server runs
    new_key = "rotated-key-0123456789abcdef"
    (folder / "secret.yaml").write_text(SECRET_TEMPLATE.format(key=new_key), encoding="utf-8")
    eventually(lambda: status_with(base, new_key) == 200 and status_with(base, GUIDE_KEY) == 401)

    # a broken edit keeps the last good version serving, and the error names the file
    (folder / "secret.yaml").write_text("apiVersion: v1\nkind: Secret\nmetadata: {name: apikey\n", encoding="utf-8")
    running.wait_for(r"secret\.yaml.*not valid YAML|not valid YAML.*secret\.yaml")
    eventually(lambda: status_with(base, new_key) == 200 and status_with(base, GUIDE_KEY) == 401)

    # a manifest that parses but breaks a CRD rule is also refused, naming the file and field
    (folder / "traffic-policy.yaml").write_text(
        (EXAMPLES / "kgateway" / "traffic-policy.yaml").read_text() + "    disable: {}\n", encoding="utf-8"
    )
    running.wait_for(r"traffic-policy\.yaml.*spec\.apiKeyAuth.*exactly one of")
    assert status_with(base, None) == 401

    assert GUIDE_KEY not in "\n".join(running.lines)
    assert new_key not in "\n".join(running.lines)


def test_serve_agentgateway_example(tmp_path):
    folder = tmp_path / "ag"
    shutil.copytree(EXAMPLES / "agentgateway", folder)
    running = Running(str(folder), "--httpbin", "--listen", "0:80", "--admin-port", "-1", "--no-watch")
    try:
        port = running.wait_for(r"listener port 80 on http://127\.0\.0\.1:(\d+)").group(1)
        base = f"http://127.0.0.1:{port}"
        assert fetch(base, "/headers").body == b"api key authentication failure: no API Key found"
        assert fetch(base, "/headers", headers={"Authorization": "Bearer x"}).body == (
            b"api key authentication failure: invalid credentials"
        )
        reply = fetch(base, "/headers", headers={"Authorization": f"Bearer {GUIDE_KEY}"})
        assert reply.status == 200
        assert "authorization" not in {k.lower() for k in reply.json()["headers"]}
    finally:
        assert running.stop() == 0, "\n".join(running.lines)


def test_serve_missing_folder_is_a_clear_error(tmp_path):
    result = cli("serve", str(tmp_path / "absent"))
    assert result.returncode == 2
    assert "does not exist" in result.stderr


# -- keygen -------------------------------------------------------------------------------------------------------
def test_keygen_output_validates_and_keys_are_strong():
    result = cli("keygen", "alice", "bob", "carol", "--name", "team-keys", "--namespace", "apps",
                 "--label", "app=httpbin", "--hashed-configmap")  # fmt: skip
    assert result.returncode == 0, result.stderr
    resources = load_manifests(result.stdout)
    secret = next(r for r in resources if isinstance(r, Secret))
    config_map = next(r for r in resources if isinstance(r, ConfigMap))
    assert (secret.metadata.name, secret.metadata.namespace) == ("team-keys", "apps")
    assert secret.metadata.labels == {"app": "httpbin"}
    keys = secret.entries()
    assert sorted(keys) == ["alice", "bob", "carol"]
    assert len(set(keys.values())) == 3
    for key in keys.values():
        assert re.fullmatch(r"[A-Za-z0-9_-]{43,}", key)  # 32 random bytes, URL-safe base64
    assert sorted(config_map.entries()) == ["alice", "bob", "carol"]
    assert all(key not in result.stdout.split("kind: ConfigMap")[1] for key in keys.values())

    again = load_manifests(cli("keygen", "alice", "bob", "carol").stdout)[0].entries()
    assert not set(again.values()) & set(keys.values())


def test_keygen_keys_work_in_both_dialects():
    from refsupport import ag_policy, config_map, decide, gateway, make_store, route, target, traffic_policy

    resources = load_manifests(cli("keygen", "alice", "--name", "k", "--hashed-configmap").stdout)
    secret, hashes = resources
    key = secret.entries()["alice"]
    kg = make_store(gateway(), route(), traffic_policy(targets=[target("Gateway", "gw")], secretRef={"name": "k"}))
    kg.apply([secret])
    assert decide(kg, ("api-key", key)).client == "alice"
    ag = make_store(
        gateway(cls="agentgateway"),
        route(),
        config_map("k", labels={"x": "y"}, **hashes.entries()),
        ag_policy(targets=[target("Gateway", "gw")], configMapSelector={"matchLabels": {"x": "y"}}),
    )
    assert ag.status("AgentgatewayPolicy", "default", "ap").reason == "Valid"
    assert decide(ag, ("authorization", f"Bearer {key}")).client == "alice"


def test_keygen_output_file_is_private_and_the_keys_are_shown_once(tmp_path):
    out = tmp_path / "keys.yaml"
    result = cli("keygen", "alice", "bob", "--output", str(out))
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    keys = load_manifests(out.read_text())[0].entries()
    for client, key in keys.items():
        # printed once, to standard output, next to its client; never on stderr, never in the file as text
        assert result.stdout.count(key) == 1
        assert re.search(rf"^{client}\s+{re.escape(key)}$", result.stdout, re.M)
        assert key not in result.stderr and key not in out.read_text()
    assert "not shown again" in result.stdout
    again = cli("keygen", "alice", "--output", str(out))
    assert again.returncode == 2 and "--force" in again.stderr


def test_keygen_without_output_lists_the_keys_in_a_comment_above_the_manifests():
    result = cli("keygen", "alice")
    assert result.returncode == 0, result.stderr
    key = load_manifests(result.stdout)[0].entries()["alice"]
    comment = [line for line in result.stdout.splitlines() if line.startswith("#")]
    assert sum(key in line for line in comment) == 1
    assert key not in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("a", "--bytes", "8"), "--bytes 8: an API key needs at least 16 bytes"),
        (("alice", "alice"), "client id 'alice' is given twice"),
        (("Alice Smith",), "client id 'Alice Smith' cannot be a Secret entry name"),
        (("alice", "--namespace", "BAD_NS"), "--namespace 'BAD_NS': a lowercase RFC 1123 label must consist of"),
        (("alice", "--name", "Bad Name"), "metadata.name"),
        (("alice", "--label", "app"), "--label 'app': expected KEY=VALUE"),
        (("alice", "--label", "bad key=x"), 'metadata.labels: Invalid value: "bad key"'),
    ],
)
def test_keygen_refuses_bad_input_with_a_clear_message(args, message):
    result = cli("keygen", *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""  # nothing half-written, no key shown for manifests that were refused


# -- validate -----------------------------------------------------------------------------------------------------
def test_validate_examples_ok():
    result = cli("validate", str(EXAMPLES / "kgateway"), str(EXAMPLES / "agentgateway"))
    assert result.returncode == 0, result.stderr
    assert "valid resource" in result.stdout


def test_validate_bad_file_names_the_field(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: gateway.kgateway.dev/v1alpha1\nkind: TrafficPolicy\nmetadata: {name: p}\n"
        "spec:\n  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: gw}]\n"
        "  apiKeyAuth:\n    secretRef: {name: k}\n    keySources: [{}]\n",
        encoding="utf-8",
    )
    good = tmp_path / "good.yaml"
    good.write_text((EXAMPLES / "kgateway" / "secret.yaml").read_text(), encoding="utf-8")
    result = cli("validate", str(good), str(bad))
    assert result.returncode != 0
    assert "bad.yaml" in result.stderr
    assert "spec.apiKeyAuth.keySources[0]" in result.stderr
    assert "at least one of the fields in [header query cookie] must be set" in result.stderr
    assert "good.yaml: 1 valid resource" in result.stdout


def test_validate_never_prints_secret_values(tmp_path):
    bad = tmp_path / "secret.yaml"
    bad.write_text("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {k: 'Sup3rSecret!!'}\n")
    result = cli("validate", str(bad))
    assert result.returncode != 0
    assert "Sup3rSecret" not in result.stderr + result.stdout
    assert "data" in result.stderr


def test_validate_release_chooses_the_api_servers_crds(tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "apiVersion: gateway.kgateway.dev/v1alpha1\nkind: TrafficPolicy\nmetadata: {name: p}\n"
        "spec:\n  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: gw}]\n"
        "  apiKeyAuth:\n    secretSelector: {matchExpressions: [{key: app, operator: In, values: [a]}]}\n",
        encoding="utf-8",
    )
    # By default, the CRDs of what clusters/versions.yaml installs: kgateway v2.3.7 has no matchExpressions.
    pinned = cli("validate", str(policy))
    assert pinned.returncode == 1
    field = "spec.apiKeyAuth.secretSelector.matchExpressions"
    assert (
        f'{policy}: TrafficPolicy.gateway.kgateway.dev "p": TrafficPolicy in version "v1alpha1" cannot be handled as '
        f'a TrafficPolicy: strict decoding error: unknown field "{field}"'
    ) in pinned.stderr
    assert "admission: as the API server with the CRDs of gateway-api v1.5.1, kgateway v2.3.x, agentgateway v1.4.1" in (
        pinned.stdout
    )
    # The development API only when asked for.
    for release in ("newest", "kgateway=main"):
        newest = cli("validate", "--release", release, str(policy))
        assert newest.returncode == 0, newest.stderr
        assert "kgateway main" in newest.stdout
        assert "note: TrafficPolicy default/p is not accepted (Invalid)" in newest.stderr  # a controller finding
    older = cli("validate", "--release", "agentgateway=v1.3.1", str(policy))
    assert "kgateway v2.3.x, agentgateway v1.3.1" in older.stdout  # the others stay pinned
    unknown = cli("validate", "--release", "kgateway=v9", str(policy))
    assert unknown.returncode == 2
    assert "unknown kgateway release 'v9'; vendored: main, v2.3.x" in unknown.stderr


# -- serve: start-up, ports, signals -----------------------------------------------------------------------------
def test_serve_refuses_to_start_when_a_file_is_rejected(kgateway_folder):
    (kgateway_folder / "traffic-policy.yaml").write_text(
        (EXAMPLES / "kgateway" / "traffic-policy.yaml").read_text() + "    secretSelector: {matchLabels: {a: b}}\n"
    )
    (kgateway_folder / "broken.yaml").write_text("kind: List\nitems: 5\n")
    result = cli("serve", str(kgateway_folder), "--listen", "0:8080", "--admin-port", "-1")
    assert result.returncode == 2
    assert "traffic-policy.yaml" in result.stderr and "exactly one of" in result.stderr
    assert "broken.yaml" in result.stderr
    assert "not serving: 2 file(s)" in result.stderr and "--allow-rejected" in result.stderr
    assert "last good" not in result.stderr  # there is none at start-up: the message must not claim one
    assert "Traceback" not in result.stderr


def test_serve_allow_rejected_serves_the_rest_and_ready_says_what_was_rejected(kgateway_folder):
    (kgateway_folder / "broken.yaml").write_text("kind: List\nitems: 5\n")
    running = Running(str(kgateway_folder), "--httpbin", "--listen", "0:8080", "--admin-port", "0", "--allow-rejected")
    try:
        port = running.wait_for(r"listener port 8080 on http://127\.0\.0\.1:(\d+)").group(1)
        admin = running.wait_for(r"admin on (http://127\.0\.0\.1:\d+)").group(1)
        base = f"http://127.0.0.1:{port}"
        assert status_with(base, None) == 401 and status_with(base, GUIDE_KEY) == 200
        ready = fetch(admin, "/ready", host="localhost")
        assert ready.status == 200
        assert ready.text.startswith("degraded") and "broken.yaml" in ready.text and "not loaded" in ready.text
        status = fetch(admin, "/status", host="localhost").json()
        assert any("broken.yaml" in line for line in status["problems"]["degraded"])
        running.wait_for(r"degraded: rejected .*broken\.yaml")  # the log says it too, once
    finally:
        assert running.stop() == 0, "\n".join(running.lines)


def test_serve_reports_a_port_in_use_with_a_hint(kgateway_folder):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = cli("serve", str(kgateway_folder), "--listen", f"{port}:8080", "--admin-port", "-1", "--no-watch")
    assert result.returncode == 2
    assert f"127.0.0.1:{port} is already in use" in result.stderr and "--listen" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_an_empty_folder_says_one_clear_thing(tmp_path):
    result = cli("serve", str(tmp_path), "--admin-port", "-1")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "nothing to serve" in result.stderr and "--listen" in result.stderr


def test_serve_stops_on_sigterm_and_says_so(kgateway_folder):
    running = Running(str(kgateway_folder), "--listen", "0:8080", "--admin-port", "-1")
    running.wait_for(r"listener port 8080")
    assert running.stop() == 0
    assert any(line == "stopping (SIGTERM)" for line in running.lines)


# -- validate: every input gets a verdict, never a traceback ----------------------------------------------------
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x00\xff\xfe\x89PNG", "not a text file"),
        (b"a: " + b"[" * 3000 + b"]" * 3000, "nested more than 64 levels deep"),
        (b"kind: List\nitems: 5\n", "items: expected a list of manifests; got int"),
        (b"apiVersion: v1\nkind: Secret\nmetadata: {name: apikey\n", "not valid YAML at line 4, column 1"),
    ],
)
def test_validate_gives_each_bad_file_one_clear_line(tmp_path, content, message):
    path = tmp_path / "bad.yaml"
    path.write_bytes(content)
    result = cli("validate", str(path))
    assert result.returncode == 1
    assert message in result.stderr
    assert result.stderr.count(str(path)) == 1  # the path once, not twice
    assert "Traceback" not in result.stderr


def test_validate_an_empty_folder_fails(tmp_path):
    result = cli("validate", str(tmp_path))
    assert result.returncode == 1
    assert "no manifest files" in result.stderr


def test_validate_reports_what_the_controller_would_say(tmp_path):
    (tmp_path / "policy.yaml").write_text((EXAMPLES / "kgateway" / "traffic-policy.yaml").read_text())
    lenient = cli("validate", str(tmp_path))
    assert lenient.returncode == 0
    assert "note: TrafficPolicy" in lenient.stderr and "not accepted" in lenient.stderr
    strict = cli("validate", "--strict", str(tmp_path))
    assert strict.returncode == 1 and "error: TrafficPolicy" in strict.stderr


def test_apikey_conformance_without_the_suite_dependencies_says_how_to_get_them(monkeypatch, capsys):
    import importlib.util

    from conformance import cli as conformance_cli

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pytest" else real(name))
    assert conformance_cli.main([]) == 2
    assert "pip install -e '.[conformance]'" in capsys.readouterr().err


# -- serve --workers ----------------------------------------------------------------------------------------------
def test_serve_with_two_workers_shares_the_listener_sums_counters_and_restarts_a_dead_worker(kgateway_folder):
    running = Running(str(kgateway_folder), "--httpbin", "--listen", "0:8080", "--admin-port", "0", "--workers", "2")
    try:
        port = running.wait_for(r"listener port 8080 on http://127\.0\.0\.1:(\d+)").group(1)
        admin = running.wait_for(r"admin on (http://127\.0\.0\.1:\d+)").group(1)
        pids = [int(running.wait_for(rf"worker {i} started \(pid (\d+)\)").group(1)) for i in range(2)]
        base = f"http://127.0.0.1:{port}"
        for _ in range(10):  # fresh connections: the kernel spreads them over both workers
            assert status_with(base, GUIDE_KEY) == 200
            assert status_with(base, None) == 401

        def counts() -> dict:
            clients = fetch(admin, "/stats", host="localhost").json()["clients"]
            return next(iter(clients.values()), {})

        eventually(lambda: counts().get("api-key", {}).get("allowed") == 10, timeout=10)
        assert counts()["<missing>"]["denied"] == 10

        # a rotation reaches every worker
        new_key = "rotated-key-for-workers-0123456789"
        (kgateway_folder / "secret.yaml").write_text(SECRET_TEMPLATE.format(key=new_key), encoding="utf-8")
        eventually(lambda: all(status_with(base, new_key) == 200 for _ in range(6)), consecutive=2)
        assert all(status_with(base, GUIDE_KEY) == 401 for _ in range(6))

        # a dead worker is reported, restarted, and its counts are kept
        os.kill(pids[0], signal.SIGKILL)
        running.wait_for(r"worker 0 exited with code -9; restarting")
        running.wait_for(rf"worker 0 started \(pid (?!{pids[0]}\b)\d+\)")
        eventually(lambda: fetch(admin, "/ready", host="localhost").status == 200, timeout=10)
        assert all(status_with(base, new_key) == 200 for _ in range(6))
        assert counts()["api-key"]["allowed"] >= 10
    finally:
        assert running.stop() == 0, "\n".join(running.lines)
    assert GUIDE_KEY not in "\n".join(running.lines)
