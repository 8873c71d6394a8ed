"""conformance.notebook: HTML views never show a key, the Playground on the real reference gateway, run summaries."""

from __future__ import annotations

import base64
import importlib
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from conformance.http import Exchange, RequestSpec
from conformance.notebook import (
    ManifestView,
    Playground,
    ResponseView,
    RunSummary,
    ScenarioTable,
    as_stored,
    project_root,
    register_keys,
    run_conformance,
    show_yaml,
)
from conformance.notebook.results import shown_path
from conformance.redact import MARKER, REDACTOR
from conformance.report import (
    FAILED,
    INFRASTRUCTURE,
    NOT_SUPPORTED,
    PASSED,
    SKIPPED,
    RunFacts,
    ScenarioResult,
    build_report,
    write_report,
)
from conformance.targets import TargetUnavailable
from reference_impl.keygen import generate_key, secret_manifest

NS = "kgateway-system"
ROOT = Path(__file__).resolve().parents[2]


def policy_yaml(extra: str = "") -> str:
    return f"""
apiVersion: gateway.kgateway.dev/v1alpha1
kind: TrafficPolicy
metadata:
  name: apikey-auth
  namespace: {NS}
spec:
  targetRefs:
  - group: gateway.networking.k8s.io
    kind: Gateway
    name: http
  apiKeyAuth:
    secretRef:
      name: apikey
{extra}"""


def assert_no_key(text: str, key: str) -> None:
    assert key not in text
    assert base64.b64encode(key.encode()).decode() not in text


# -- views ---------------------------------------------------------------------------------------------------
def test_response_view_html_shows_status_and_curl_but_never_the_key() -> None:
    key = generate_key()
    register_keys([key])
    spec = RequestSpec("GET", "/anything", "www.example.com", 8080, (("api-key", f"Bearer {key}"),), (("k", key),))
    echo = {"headers": {"Api-Key": f"Bearer {key}", "Host": "www.example.com"}, "args": {"k": key}}
    json_type = {"content-type": "application/json"}
    exchange = Exchange(spec, "http://127.0.0.1:1/anything", 200, json_type, json.dumps(echo))
    view = ResponseView(exchange, "http://127.0.0.1:1")
    page = view._repr_html_()
    assert "200" in page and "curl -i" in page and "/anything?k=" in page
    assert f"Bearer {MARKER}" in view.curl
    assert_no_key(page, key)
    assert_no_key(repr(view), key)
    assert view.upstream_args() == {"k": key}  # the data itself is intact; only what is shown is redacted


def test_response_view_html_escapes_the_body() -> None:
    spec = RequestSpec("POST", "/x")
    view = ResponseView(
        Exchange(spec, "u", 401, {"content-type": "text/html"}, "<script>alert(1)</script>"), "http://h"
    )
    page = view._repr_html_()
    assert "<script>alert" not in page and "&lt;script&gt;" in page
    assert 'class="bad">401' in page
    assert "-X POST" in view.curl


def test_as_stored_base64_encodes_string_data_and_the_view_redacts_it() -> None:
    key = generate_key()
    manifest = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s", "namespace": NS},
        "stringData": {"client": key},
    }
    stored = as_stored(manifest)
    assert "stringData" not in stored and stored["type"] == "Opaque"
    assert base64.b64decode(stored["data"]["client"]).decode() == key
    assert manifest["stringData"] == {"client": key}  # the input is not modified
    register_keys([key])
    view = ManifestView([stored], "kubectl get secret s -o yaml")
    assert_no_key(view._repr_html_() + repr(view), key)
    assert f"client: {MARKER}" in view.yaml


def test_show_yaml_registers_secret_values_before_showing_them() -> None:
    key = generate_key()  # never registered by the test itself
    view = show_yaml(secret_manifest("s", NS, {"client": key}))
    assert_no_key(view._repr_html_(), key)


def test_scenario_table_renders_outcomes() -> None:
    table = ScenarioTable([ScenarioResult("kgateway", "APIKeyAuth", "a <b>", FAILED, "boom", 0.5, "k/a.feature:3")])
    page = table._repr_html_()
    assert "a &lt;b&gt;" in page and "<b>" not in page and "boom" in page and "k/a.feature:3" in page
    assert "color:#cf222e" in page  # the outcome column is coloured
    assert "text-align: left" in page  # text columns read left-aligned in Jupyter, which right-aligns cells
    assert "kgateway/APIKeyAuth" in repr(table)
    assert list(table.frame().columns)[:5] == ["profile", "feature", "level", "scenario", "outcome"]
    empty = ScenarioTable([], empty="no failed scenarios")._repr_html_()
    assert "no failed scenarios" in empty and "<th" not in empty  # a sentence, not a bare header row


# -- the playground on the real reference gateway -------------------------------------------------------------
@pytest.fixture(scope="module")
def playground() -> Iterator[Playground]:
    with Playground.start(profile="kgateway") as gw:
        gw.apply(gw.base_manifests())
        yield gw


def test_playground_applies_a_policy_and_requests_show_curl_without_the_key(playground: Playground) -> None:
    key = generate_key()
    secret = secret_manifest("apikey", NS, {"client-a": key})
    applied = playground.apply([secret])
    assert applied.lines == ["secret/apikey created"]
    assert_no_key(applied._repr_html_(), key)
    playground.apply(policy_yaml("    clientIdHeader: x-client-id\n"))
    assert playground.status("TrafficPolicy", NS, "apikey-auth").accepted

    denied = playground.request("GET", "/headers", expect=401)
    assert denied.body == "Client authentication failed."
    allowed = playground.request(headers={"api-key": key}, expect=200)
    assert allowed.upstream_headers()["x-client-id"] == "client-a"
    assert "api-key" not in allowed.upstream_headers()
    page = allowed._repr_html_()
    assert "curl -i" in page and f"api-key: {MARKER}" in page and playground.base_url() in page
    assert_no_key(page, key)

    stats = playground.stats()
    assert stats.allowed("client-a") == 1 and stats.denied("<missing>") == 1
    assert "client-a" in stats._repr_html_() and "/stats" in stats.command

    stored = playground.get("Secret", NS, "apikey")
    assert base64.b64decode(stored.manifests[0]["data"]["client-a"]).decode() == key
    assert_no_key(stored._repr_html_(), key)
    playground.reset()
    assert playground.applied == {}


def test_playground_expect_raises_when_the_status_never_comes(playground: Playground) -> None:
    playground.apply(playground.base_manifests())
    with pytest.raises(AssertionError, match="status 200, expected 418"):
        playground.request(expect=418)
    with pytest.raises(AssertionError, match="nope"):
        playground.request(expect=lambda view: "nope")


def test_playground_reports_invalid_policies_and_rejects_bad_manifests(playground: Playground) -> None:
    playground.apply(playground.base_manifests())
    playground.apply(policy_yaml())  # the Secret does not exist
    condition = playground.status("TrafficPolicy", NS, "apikey-auth")
    assert condition.status == "False" and condition.reason == "Invalid"
    assert "not found" in condition.message and "Invalid" in condition._repr_html_()
    playground.request(expect=500)
    with pytest.raises(ValueError, match="secretRef"):
        playground.apply(policy_yaml().replace("secretRef:\n      name: apikey", "secretRef: {}\n    disable: {}"))
    playground.reset()


def test_playground_serves_extra_backends() -> None:
    from werkzeug.serving import make_server
    from werkzeug.wrappers import Response

    def app(environ, start_response):
        return Response(f"hello from {environ['PATH_INFO']}")(environ, start_response)

    server = make_server("127.0.0.1", 0, app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with Playground.start(backends={"mine": f"http://127.0.0.1:{server.server_port}"}) as gw:
            route = gw.base_manifests()[1]
            route["spec"]["rules"][0]["backendRefs"][0]["name"] = "mine"
            gw.apply([gw.base_manifests()[0], route])
            assert gw.request("GET", "/own", expect=200).body == "hello from /own"
            assert "running" in repr(gw)
        assert "closed" in repr(gw)
        gw.close()  # idempotent
    finally:
        server.shutdown()


def test_playground_refuses_unknown_targets_and_profiles() -> None:
    with pytest.raises(ValueError, match="unknown target"):
        Playground.for_target("nowhere")
    with pytest.raises(ValueError, match="profile"):
        Playground.for_target("reference", profile="istio")
    with pytest.raises((ValueError, TargetUnavailable)):  # envoy implements only the kgateway profile
        Playground.for_target("envoy", profile="agentgateway")


# -- run summaries ---------------------------------------------------------------------------------------------
SCENARIOS = [
    ScenarioResult("kgateway", "APIKeyAuth", "no key is rejected", PASSED, "", 0.1, "kgateway/a.feature:1"),
    ScenarioResult(
        "kgateway", "APIKeyAuth", "the key is accepted", FAILED, "expected 200, got 401", 0.2, "kgateway/a.feature:2"
    ),
    ScenarioResult("kgateway", "APIKeyAuthCookieSource", "cookie", SKIPPED, "not today", 0.0, "kgateway/c.feature:1"),
    ScenarioResult("agentgateway", "APIKeyAuth", "strict", NOT_SUPPORTED, "n/a", 0.0, "agentgateway/a.feature:1"),
]


def write_run(folder: Path) -> Path:
    report = build_report(
        SCENARIOS,
        facts=RunFacts(target="envoy", versions={"envoy": "1.40.0"}),
        profiles=["kgateway", "agentgateway"],
        supported={"kgateway": {"APIKeyAuth", "APIKeyAuthCookieSource"}, "agentgateway": set()},
        implementation={"organization": "acme", "project": "gw", "url": "", "version": "1.0", "contact": []},
    )
    return write_report(report, folder / "conformance-report.yaml")


def test_run_summary_parses_a_report_with_scenarios(tmp_path: Path) -> None:
    report_path = write_run(tmp_path)
    summary = RunSummary.load(report_path)
    assert summary.target == "envoy" and summary.result == "failure" and not summary.ok
    assert summary.totals == {PASSED: 1, FAILED: 1, SKIPPED: 1, NOT_SUPPORTED: 1, INFRASTRUCTURE: 0}
    assert summary.profile("agentgateway")["result"] == "not-supported"
    assert summary.rows()[0] == ("kgateway", "APIKeyAuth", "core", 1, 1, 0, 0, 0)
    assert [r.name for r in summary.failures().results] == ["the key is accepted"]
    page = summary._repr_html_()
    for text in ("target envoy", "failure", "APIKeyAuthCookieSource", "the key is accepted", "envoy 1.40.0", "gw"):
        assert text in page
    assert "kgateway: failure" in repr(summary)
    assert summary.features_frame()["passed"].sum() == 1


def test_run_summary_finds_unredacted_secret_values_in_allure_attachments(tmp_path: Path) -> None:
    report_path = write_run(tmp_path)
    allure = tmp_path / "allure-results"
    allure.mkdir()
    secret = "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: n}\nstringData:\n"
    (allure / "a-attachment.txt").write_text(
        secret + '  ok: [REDACTED]\n  empty: ""\n  hashed: \'{"keyHash": "sha256:00"}\'\n', encoding="utf-8"
    )
    assert RunSummary.load(report_path, allure_dir=allure).unredacted_secret_entries() == []
    (allure / "b-attachment.txt").write_text(secret + "  leaked: plain-key-value\n", encoding="utf-8")
    assert RunSummary.load(report_path, allure_dir=allure).unredacted_secret_entries() == [
        "b-attachment.txt: Secret n/s leaked"
    ]


def test_run_summary_chart_has_one_bar_row_per_feature(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    summary = RunSummary.load(write_run(tmp_path))
    figure = summary.chart()
    labels = [tick.get_text() for tick in figure.axes[0].get_yticklabels()]
    assert labels == ["kgateway/APIKeyAuth", "kgateway/APIKeyAuthCookieSource", "agentgateway/APIKeyAuth"]
    assert figure._repr_png_().startswith(b"\x89PNG")
    assert summary.save_chart(tmp_path / "chart.png").stat().st_size > 0


def test_run_summary_rejects_other_yaml(tmp_path: Path) -> None:
    path = tmp_path / "other.yaml"
    path.write_text(yaml.safe_dump({"kind": "Something"}), encoding="utf-8")
    with pytest.raises(ValueError, match="not a ConformanceReport"):
        RunSummary.load(path)


def test_run_conformance_runs_the_suite_in_a_subprocess(tmp_path: Path) -> None:
    summary = run_conformance(
        "reference",
        "kgateway",
        ["--run-scenarios", "A client id sent by the client is overwritten"],
        folder=tmp_path / "run",
    )
    assert summary.ok, summary.output
    assert [(r.feature, r.outcome) for r in summary.scenarios] == [("APIKeyAuthClientIDHeader", PASSED)]
    # One scenario is a subset: its own file, partial, and said so.
    assert summary.report_path == tmp_path / "run" / "conformance-report.subset.yaml"
    assert not summary.complete and summary.result == "partial" and "SUBSET" in summary.headline()
    assert any(summary.allure_dir.glob("*-result.json"))
    assert summary.unredacted_secret_entries() == []
    assert summary.command.startswith("apikey-conformance --target reference")
    assert len(REDACTOR.secrets) > 100  # the suite's keys are registered in this process too


def test_paths_are_shown_relative_to_the_project() -> None:
    assert shown_path(ROOT / "reports" / "r.yaml") == "reports/r.yaml"


def test_project_root_is_found_from_a_subfolder() -> None:
    assert project_root(ROOT / "notebooks") == ROOT


# -- conformance.notebook.execute ------------------------------------------------------------------------------
def load_runner():
    pytest.importorskip("nbformat")
    return importlib.import_module("conformance.notebook.execute")


def test_runner_injects_parameters_after_the_parameters_cell() -> None:
    import nbformat

    runner = load_runner()
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("import os"),
        nbformat.v4.new_code_cell('TARGET = "reference"\nOPTIONS: dict = {}', metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("print(TARGET)"),
    ]
    injected = runner.inject_parameters(
        notebook, {"OPTIONS": {"a": 1}}, {"NOTEBOOK_TARGET": "envoy", "NOTEBOOK_OTHER": "x"}
    )
    assert injected == {"TARGET": "envoy", "OPTIONS": {"a": 1}}
    assert notebook.cells[2].metadata["tags"] == ["injected-parameters"]
    assert "TARGET = 'envoy'" in notebook.cells[2].source and "OPTIONS = {'a': 1}" in notebook.cells[2].source
    assert runner.inject_parameters(notebook, {"NOPE": 1}, {}) == {}  # left to notebooks that have it
    with pytest.raises(runner.UsageError, match="no parameters cell sets it"):
        runner.check_parameters([ROOT / "notebooks" / "01_kgateway_guide.py"], {"NOPE": 1})
    assert runner.literal("3") == 3 and runner.literal("envoy") == "envoy"


# -- JupyterLab with the repository's own configuration ---------------------------------------------------------
def test_jupyterlab_opens_the_walkthroughs_as_notebooks_with_the_repository_configuration(tmp_path: Path) -> None:
    """`tox -e lab`'s setup: a real Jupyter server with JUPYTER_CONFIG_PATH=.jupyter and the jupytext extension."""
    pytest.importorskip("jupyterlab")
    pytest.importorskip("jupytext")
    import os
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "JUPYTER_CONFIG_PATH": str(ROOT / ".jupyter"), "JUPYTER_RUNTIME_DIR": str(tmp_path)}
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", f"--port={port}"]
    command += ["--ServerApp.ip=127.0.0.1", "--IdentityProvider.token=t", f"--ServerApp.root_dir={ROOT}"]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def get(path: str, query: str = "") -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}?token=t{query}", timeout=10) as response:
            return json.loads(response.read())

    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                get("/api/status")
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.5)
        settings = get("/lab/api/settings/@jupyterlab/docmanager-extension:plugin")
        assert settings["schema"]["properties"]["defaultViewers"]["default"]["python"] == "Jupytext Notebook"
        listing = get("/api/contents/notebooks")["content"]
        notebooks = sorted(item["name"] for item in listing if item["type"] == "notebook")
        assert notebooks == sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
        assert len(notebooks) >= 4
        opened = get("/api/contents/notebooks/04_certify_a_gateway.py", "&type=notebook")
        assert opened["type"] == "notebook" and len(opened["content"]["cells"]) > 5
    finally:
        server.terminate()
        server.wait(timeout=30)
