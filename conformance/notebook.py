"""Notebook helpers: the gateway in one call, and objects that render as HTML in Jupyter.

    gw = Playground.start(profile="kgateway")       # reference gateway + real httpbin, ephemeral ports
    gw.apply(yaml_text)                             # like `kubectl apply -f -`; Secrets' keys get redacted
    r = gw.request("GET", "/headers", headers={"api-key": "..."}, expect=200)   # shows the curl equivalent
    gw.status("TrafficPolicy", "kgateway-system", "apikey-auth"); gw.stats(); gw.close()

    summary = run_conformance(target="reference", profile="kgateway")   # the suite in a subprocess
    summary                                          # result tables; summary.chart() for pass/skip/fail per feature

Everything these objects show passes through `conformance.redact.REDACTOR`: a key never reaches a notebook's
saved output.
"""

from __future__ import annotations

import atexit
import base64
import copy
import html
import io
import json
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import requests
import yaml

from conformance.consistency import ConsistencySettings, eventually
from conformance.http import Exchange, RequestSpec, send
from conformance.profiles import PROFILES, Profile
from conformance.redact import REDACTOR
from conformance.report import FAILED, NOT_SUPPORTED, PASSED, SKIPPED, ScenarioResult, scenario_results, summary_table
from conformance.targets import make_target
from conformance.targets.base import PolicyCondition, Target

_STYLE = (
    "<style>"
    ".akc{font-family:system-ui,sans-serif;font-size:13px;margin:4px 0}"
    ".akc pre{background:#f6f8fa;border:1px solid #d0d7de;border-radius:4px;padding:6px 8px;margin:4px 0;"
    "white-space:pre-wrap;word-break:break-all;font-size:12px}"
    ".akc pre.cmd{background:#1f2328;color:#e6edf3}"
    ".akc table{border-collapse:collapse;margin:4px 0}"
    ".akc th,.akc td{border:1px solid #d0d7de;padding:2px 8px;text-align:left;vertical-align:top}"
    ".akc th{background:#f6f8fa}"
    ".akc .ok{color:#1a7f37;font-weight:600}.akc .bad{color:#cf222e;font-weight:600}"
    ".akc .warn{color:#9a6700;font-weight:600}.akc .muted{color:#656d76}"
    "</style>"
)


# -- rendering helpers -------------------------------------------------------------------------------------
def redacted(value: Any) -> str:
    """Any value as text with every registered key replaced by the redaction marker."""
    return REDACTOR.redact(value if isinstance(value, str) else str(value))


def register_keys(keys: Iterable[str] | Mapping[str, str]) -> None:
    """Register keys the notebook made itself (e.g. with reference_impl.keygen) before anything shows them."""
    values = keys.values() if isinstance(keys, Mapping) else keys
    for key in values:
        REDACTOR.add(str(key))


def _esc(value: Any) -> str:
    return html.escape(redacted(value))


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]], raw_columns: frozenset[int] = frozenset()) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{cell if i in raw_columns else _esc(cell)}</td>" for i, cell in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _box(inner: str) -> str:
    return f'{_STYLE}<div class="akc">{inner}</div>'


def _status_class(status: int) -> str:
    return "ok" if 200 <= status < 400 else "bad"


def _outcome_html(outcome: str) -> str:
    css = {PASSED: "ok", FAILED: "bad", SKIPPED: "warn"}.get(outcome, "muted")
    return f'<span class="{css}">{html.escape(outcome)}</span>'


def _as_documents(manifests: str | Mapping[str, Any] | Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    if isinstance(manifests, str):
        return [doc for doc in yaml.safe_load_all(manifests) if doc]
    if isinstance(manifests, Mapping):
        return [dict(manifests)]
    return [dict(doc) for doc in manifests if doc]


def _to_yaml(documents: Sequence[Mapping[str, Any]]) -> str:
    return yaml.safe_dump_all([dict(d) for d in documents], sort_keys=False, width=120).strip()


def as_stored(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """A manifest as the API server returns it (`kubectl get -o yaml`): a Secret's `stringData` is merged over
    `data`, base64-encoded, and not kept. The encoded values are registered for redaction too."""
    stored = copy.deepcopy(dict(manifest))
    if stored.get("kind") == "Secret":
        data = dict(stored.get("data") or {})
        for name, value in (stored.pop("stringData", None) or {}).items():
            data[name] = base64.b64encode(str(value).encode("utf-8")).decode("ascii")
        for value in data.values():
            REDACTOR.add_literal(str(value))
        stored["data"] = data
        stored.setdefault("type", "Opaque")
    return stored


# -- views -------------------------------------------------------------------------------------------------
@dataclass
class ManifestView:
    """Manifests shown as YAML, keys redacted, under the kubectl command that would print or apply them."""

    manifests: list[dict[str, Any]]
    command: str = ""
    lines: list[str] = field(default_factory=list)  # kubectl's answer, e.g. "secret/apikey created"
    heredoc: bool = False  # the YAML is the command's stdin: `kubectl apply -f - <<EOF ... EOF`

    @property
    def yaml(self) -> str:
        return redacted(_to_yaml(self.manifests))

    def _parts(self) -> tuple[str, str, str]:
        command = f"$ {redacted(self.command)}" if self.command else ""
        body = self.yaml + ("\nEOF" if self.heredoc else "")
        return command, body, "\n".join(redacted(line) for line in self.lines)

    def __repr__(self) -> str:
        return "\n".join(part for part in self._parts() if part)

    def _repr_html_(self) -> str:
        command, body, answer = self._parts()
        inner = f'<pre class="cmd">{html.escape(command)}</pre>' if command else ""
        inner += f"<pre>{html.escape(body)}</pre>"
        if answer:
            inner += f"<pre>{html.escape(answer)}</pre>"
        return _box(inner)


@dataclass
class ResponseView:
    """One request through the gateway: the curl equivalent, status, headers, body and httpbin's echo."""

    exchange: Exchange
    base_url: str
    attempts: int = 1

    @property
    def status(self) -> int:
        return self.exchange.status

    @property
    def headers(self) -> dict[str, str]:
        return self.exchange.headers

    @property
    def body(self) -> str:
        return self.exchange.body

    @property
    def echo(self) -> dict[str, Any] | None:
        return self.exchange.echo

    def header(self, name: str) -> str | None:
        return self.exchange.headers.get(name.lower())

    def json(self) -> Any:
        return json.loads(self.exchange.body)

    def upstream_headers(self) -> dict[str, str] | None:
        """Headers the upstream received (lower-case names), from httpbin's echo."""
        return self.exchange.upstream_headers()

    def upstream_args(self) -> dict[str, Any] | None:
        return self.exchange.upstream_args()

    def upstream_cookies(self) -> dict[str, str] | None:
        return self.exchange.upstream_cookies()

    @property
    def curl(self) -> str:
        return redacted(self.exchange.request.curl(self.base_url))

    def _body_text(self) -> str:
        echo = self.echo
        text = json.dumps(echo, indent=2) if echo is not None else self.body
        return text if len(text) <= 4000 else text[:4000] + "\n..."

    def __repr__(self) -> str:
        lines = [f"$ {self.curl}", f"HTTP {self.status}"]
        lines += [f"{k}: {v}" for k, v in self.headers.items()]
        lines += ["", self._body_text()]
        return redacted("\n".join(lines))

    def _repr_html_(self) -> str:
        retry = f' <span class="muted">({self.attempts} attempts)</span>' if self.attempts > 1 else ""
        inner = f'<pre class="cmd">$ {_esc(self.curl)}</pre>'
        inner += f'<div>HTTP <span class="{_status_class(self.status)}">{self.status}</span>{retry}</div>'
        inner += "<details><summary>response headers</summary>"
        inner += _table(("header", "value"), sorted(self.headers.items())) + "</details>"
        inner += f"<pre>{_esc(self._body_text())}</pre>"
        return _box(inner)


@dataclass
class ConditionView:
    """A policy's `Accepted` condition as the implementation reports it (None: not set)."""

    kind: str
    namespace: str
    name: str
    condition: PolicyCondition | None

    @property
    def command(self) -> str:
        return f"kubectl get {self.kind.lower()} {self.name} -n {self.namespace} -o yaml  # .status"

    @property
    def status(self) -> str | None:
        return self.condition.status if self.condition else None

    @property
    def reason(self) -> str | None:
        return self.condition.reason if self.condition else None

    @property
    def message(self) -> str | None:
        return redacted(self.condition.message) if self.condition else None

    @property
    def accepted(self) -> bool:
        return self.status == "True"

    def __repr__(self) -> str:
        if self.condition is None:
            return f"{self.kind} {self.namespace}/{self.name}: no Accepted condition"
        return redacted(
            f"{self.kind} {self.namespace}/{self.name}: {self.condition.type}={self.condition.status} "
            f"reason={self.condition.reason} message={self.condition.message!r}"
        )

    def _repr_html_(self) -> str:
        inner = f'<pre class="cmd">$ {_esc(self.command)}</pre>'
        if self.condition is None:
            return _box(inner + '<div class="muted">no Accepted condition (yet)</div>')
        c = self.condition
        css = "ok" if c.status == "True" else "bad"
        inner += _table(
            ("type", "status", "reason", "message"),
            [(c.type, f'<span class="{css}">{html.escape(c.status)}</span>', c.reason, c.message)],
            raw_columns=frozenset({1}),
        )
        return _box(inner)


@dataclass
class StatsView:
    """Counters from the gateway's admin interface. Reference: {policy: {client: {allowed, denied}}}."""

    data: dict[str, Any]
    command: str

    def counts(self, client: str, policy: str | None = None) -> dict[str, int]:
        """Allowed / denied for a client, summed over policies (or for one policy, "kind/ns/name")."""
        total = {"allowed": 0, "denied": 0}
        for name, clients in self.data.items():
            if (policy is not None and name != policy) or not isinstance(clients, Mapping):
                continue
            for key in total:
                total[key] += int((clients.get(client) or {}).get(key, 0))
        return total

    def allowed(self, client: str, policy: str | None = None) -> int:
        return self.counts(client, policy)["allowed"]

    def denied(self, client: str, policy: str | None = None) -> int:
        return self.counts(client, policy)["denied"]

    def rows(self) -> list[tuple[str, str, Any, Any]]:
        rows = []
        for policy, clients in self.data.items():
            if isinstance(clients, Mapping):
                rows += [(policy, c, n.get("allowed", 0), n.get("denied", 0)) for c, n in clients.items()]
            else:
                rows.append((policy, "", clients, ""))
        return rows

    def __repr__(self) -> str:
        lines = [f"$ {self.command}"] + [f"{p}  {c}  allowed={a}  denied={d}" for p, c, a, d in self.rows()]
        return redacted("\n".join(lines))

    def _repr_html_(self) -> str:
        inner = f'<pre class="cmd">$ {_esc(self.command)}</pre>'
        inner += _table(("policy / counter", "client", "allowed", "denied"), self.rows())
        return _box(inner)


@dataclass
class ScenarioTable:
    """Per-scenario results of a conformance run."""

    results: list[ScenarioResult]

    def __repr__(self) -> str:
        return redacted(
            "\n".join(f"{r.outcome:<13} {r.profile}/{r.feature}: {r.name}" for r in self.results) or "(no scenarios)"
        )

    def _repr_html_(self) -> str:
        rows = [
            (r.profile, r.feature, r.name, _outcome_html(r.outcome), f"{r.duration:.2f}s", r.message[:300])
            for r in self.results
        ]
        return _box(_table(("profile", "feature", "scenario", "outcome", "time", "message"), rows, frozenset({3})))


# -- conformance runs --------------------------------------------------------------------------------------
def _overall(profiles: list[dict[str, Any]]) -> str:
    results = [str(p.get("result")) for p in profiles]
    if not results:
        return "no-profiles"
    for word in ("failure", "partial", "success"):
        if word in results:
            return word
    return results[0]


def _holds_no_key(value: Any) -> bool:
    """A Secret value as it appears in a published YAML document: redacted (`[REDACTED]` parses as a YAML list),
    empty, or an agentgateway entry with only a keyHash."""
    if value is None or value == ["REDACTED"] or "[REDACTED]" in str(value) or not str(value).strip():
        return True
    try:
        document = json.loads(str(value))
    except ValueError:
        return False
    return isinstance(document, dict) and "key" not in document and "keyHash" in document


def _in_feature_order(scenarios: list[ScenarioResult]) -> list[ScenarioResult]:
    order = {(p, f): i for i, (p, f) in enumerate((p, f) for p in PROFILES for f in PROFILES[p].features)}
    return sorted(scenarios, key=lambda r: (order.get((r.profile, r.feature), 1 << 20), r.name))


@dataclass
class RunSummary:
    """A conformance report (the YAML the suite writes) with its per-scenario results, as tables and a chart."""

    report: dict[str, Any]
    report_path: Path | None = None
    scenarios: list[ScenarioResult] = field(default_factory=list)
    allure_dir: Path | None = None
    returncode: int | None = None
    command: str = ""
    output: str = ""
    duration: float | None = None

    @classmethod
    def load(cls, report_path: str | Path, *, allure_dir: str | Path | None = None) -> RunSummary:
        """Parse a report file; its per-scenario results feed the tables and the chart."""
        path = Path(report_path)
        report = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(report, dict) or report.get("kind") != "ConformanceReport":
            raise ValueError(f"{path}: not a ConformanceReport YAML")
        scenarios = _in_feature_order(scenario_results(report))
        return cls(
            report=report, report_path=path, scenarios=scenarios, allure_dir=Path(allure_dir) if allure_dir else None
        )

    # -- facts ------------------------------------------------------------------------------------------
    @property
    def target(self) -> str:
        return str(self.report.get("target", ""))

    @property
    def profiles(self) -> list[dict[str, Any]]:
        return list(self.report.get("profiles") or [])

    @property
    def result(self) -> str:
        """failure if any profile failed, else partial if any skipped, else success."""
        return _overall(self.profiles)

    def profile(self, name: str) -> dict[str, Any]:
        for profile in self.profiles:
            if profile.get("name") == name:
                return profile
        raise KeyError(f"profile {name!r} is not in the report; it has {[p.get('name') for p in self.profiles]}")

    @property
    def totals(self) -> dict[str, int]:
        """passed / failed / skipped (counted in the statistics) and not-supported scenarios."""
        totals = {PASSED: 0, FAILED: 0, SKIPPED: 0, NOT_SUPPORTED: 0}
        for r in self.scenarios:
            totals[r.outcome] = totals.get(r.outcome, 0) + 1
        return totals

    @property
    def ok(self) -> bool:
        """No failed scenario and (when run here) pytest exited cleanly."""
        return self.totals[FAILED] == 0 and self.returncode in (None, 0)

    def rows(self) -> list[tuple[str, str, int, int, int, int]]:
        """(profile, feature, passed, failed, skipped, not supported)."""
        return summary_table(self.scenarios)

    def scenario_table(self, outcomes: Iterable[str] | None = None) -> ScenarioTable:
        wanted = set(outcomes) if outcomes is not None else None
        return ScenarioTable([r for r in self.scenarios if wanted is None or r.outcome in wanted])

    def failures(self) -> ScenarioTable:
        return self.scenario_table([FAILED])

    # -- chart ------------------------------------------------------------------------------------------
    def chart(self, title: str | None = None) -> Any:
        """A matplotlib Figure: stacked bars of passed / skipped / failed (and not supported) per feature."""
        from matplotlib.figure import Figure  # no pyplot: no global state, works headless

        class ChartFigure(Figure):
            """Shows itself as PNG in Jupyter without pyplot or a `%matplotlib` backend."""

            def _repr_png_(self) -> bytes:
                buffer = io.BytesIO()
                self.savefig(buffer, format="png", dpi=100)
                return buffer.getvalue()

        rows = self.rows()
        labels = [f"{profile}/{feature}" for profile, feature, *_ in rows]
        series = [
            ("passed", 2, "#2da44e"),
            ("skipped", 4, "#d4a72c"),
            ("failed", 3, "#cf222e"),
            ("not supported", 5, "#afb8c1"),
        ]
        figure = ChartFigure(figsize=(9, max(2.0, 0.28 * len(rows) + 1.2)), layout="constrained")
        axes = figure.add_subplot()
        positions = list(range(len(rows)))
        left = [0] * len(rows)
        for name, column, colour in series:
            values = [row[column] for row in rows]
            if not any(values):
                continue
            axes.barh(positions, values, left=left, color=colour, label=name)
            left = [a + b for a, b in zip(left, values, strict=True)]
        axes.set_yticks(positions, labels, fontsize=8)
        axes.invert_yaxis()
        axes.set_xlabel("scenarios")
        axes.set_title(title or f"API key auth conformance: target {self.target} ({self.result})")
        if rows:
            axes.legend(loc="lower right", fontsize=8)
        return figure

    def unredacted_secret_entries(self) -> list[str]:
        """Secret entries in the allure attachments whose value is not redacted (it should be an empty list).
        Empty values and agentgateway `keyHash` entries hold no key and are not counted."""
        if self.allure_dir is None or not self.allure_dir.is_dir():
            return []
        found = []
        for attachment in sorted(self.allure_dir.glob("*-attachment.*")):
            try:
                text = attachment.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            if "kind: Secret" not in text:
                continue
            try:
                documents = [d for d in yaml.safe_load_all(text) if isinstance(d, dict) and d.get("kind") == "Secret"]
            except yaml.YAMLError:
                continue
            for secret in documents:
                meta = secret.get("metadata") or {}
                values = {**(secret.get("data") or {}), **(secret.get("stringData") or {})}
                for entry, value in values.items():
                    if not _holds_no_key(value):
                        found.append(f"{attachment.name}: Secret {meta.get('namespace')}/{meta.get('name')} {entry}")
        return found

    def save_chart(self, path: str | Path) -> Path:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        self.chart().savefig(target, dpi=100)
        return target

    # -- rendering --------------------------------------------------------------------------------------
    def where(self) -> list[tuple[str, str]]:
        where = []
        if self.report_path is not None:
            where.append(("report (YAML)", str(self.report_path)))
        if self.allure_dir is not None:
            report_dir = self.allure_dir.parent / "allure-report"
            where.append(("allure results", str(self.allure_dir)))
            generate = f"npx allure generate {self.allure_dir} --output {report_dir}"
            where.append(("allure HTML", f"{generate} && npx allure open {report_dir}"))
        if self.command:
            where.append(("command", self.command))
        return where

    def __repr__(self) -> str:
        lines = [f"target {self.target}: {self.result}  " + "  ".join(f"{k}={v}" for k, v in self.totals.items())]
        for profile in self.profiles:
            lines.append(f"  {profile.get('name')}: {profile.get('result')} - {profile.get('summary', '')}")
        lines += [f"  {what}: {where}" for what, where in self.where()]
        return redacted("\n".join(lines))

    def _repr_html_(self) -> str:
        result_css = {"success": "ok", "failure": "bad", "partial": "warn"}.get(self.result, "muted")
        implementation = self.report.get("implementation") or {}
        who = " ".join(str(implementation.get(k) or "") for k in ("organization", "project", "version")).strip()
        took = f", {self.duration:.1f}s" if self.duration is not None else ""
        inner = (
            f"<div><b>target {_esc(self.target)}</b>{' (' + _esc(who) + ')' if who else ''}: "
            f'<span class="{result_css}">{html.escape(self.result)}</span>'
            f' <span class="muted">{_esc(self.report.get("date", ""))}{took}</span></div>'
        )
        inner += _table(("outcome", "scenarios"), [(k, v) for k, v in self.totals.items()])
        inner += _table(
            ("profile", "result", "summary"),
            [(p.get("name"), p.get("result"), p.get("summary", "")) for p in self.profiles],
        )
        inner += _table(("profile", "feature", "passed", "failed", "skipped", "not supported"), self.rows())
        failed = [r for r in self.scenarios if r.outcome == FAILED]
        if failed:
            inner += "<div class='bad'>failed scenarios</div>" + self.failures()._repr_html_()
        inner += _table(("what", "where"), self.where())
        return _box(inner)


def project_root(start: str | Path | None = None) -> Path:
    """The checkout this module belongs to when run from one (the folder with pyproject.toml above `start`, the
    working directory by default); else the working directory. Notebooks run in notebooks/, reports go to the root."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file() and (folder / "conformance").is_dir():
            return folder
    return here


def run_conformance(
    target: str = "reference",
    profile: str | None = None,
    extra_args: Sequence[str] = (),
    *,
    folder: str | Path | None = None,
    target_options: Mapping[str, Any] | None = None,
    timeout: float = 3600,
    cwd: str | Path | None = None,
) -> RunSummary:
    """Run the suite (`python -m conformance.cli`) in a subprocess; the report and the allure results go under
    `folder` (default: reports/notebook-conformance in the project root), which is emptied of a previous run's files
    first. Extra pytest or harness options go in `extra_args`."""
    out = Path(folder).resolve() if folder else project_root() / "reports" / "notebook-conformance"
    out.mkdir(parents=True, exist_ok=True)
    report = out / "conformance-report.yaml"
    allure = out / "allure-results"
    report.unlink(missing_ok=True)
    if allure.is_dir():
        shutil.rmtree(allure)
    command = [
        sys.executable,
        "-m",
        "conformance.cli",  # the suite with the scenarios' folder as rootdir, as `apikey-conformance` runs it
        "-q",
        "--target",
        target,
        "--conformance-report",
        str(report),
        "--alluredir",
        str(allure),
    ]
    if profile:
        command += ["--profile", profile]
    for key, value in (target_options or {}).items():
        command += ["--target-option", f"{key}={value}"]
    command += list(extra_args)
    started = time.monotonic()
    completed = subprocess.run(
        command,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    output = redacted((completed.stdout + completed.stderr)[-6000:])
    if not report.is_file():
        raise RuntimeError(f"the conformance run wrote no report (pytest exit code {completed.returncode}):\n{output}")
    summary = RunSummary.load(report, allure_dir=allure)
    summary.returncode = completed.returncode
    summary.command = shlex.join(command)
    summary.output = output
    summary.duration = time.monotonic() - started
    return summary


# -- the playground ----------------------------------------------------------------------------------------
Manifests = str | Mapping[str, Any] | Iterable[Mapping[str, Any]]


class Playground:
    """A gateway to try policies on from notebook cells: apply / delete YAML, send requests, read status and stats.

    `Playground.start()` runs the reference gateway with a real httpbin on ephemeral ports;
    `Playground.for_target(name, options)` uses any conformance target (reference, envoy, kind, cluster).
    """

    def __init__(
        self,
        target: Target,
        *,
        profile: str | None = None,
        settings: ConsistencySettings | None = None,
    ) -> None:
        self.target = target
        self.profile: Profile | None = PROFILES[profile] if profile else None
        settings = settings or ConsistencySettings.from_env()
        if target.applies_synchronously:
            # Nothing propagates: one matching answer is the answer (so per-client counters stay exact), and a
            # wrong answer will not change by waiting, so a failing cell fails within seconds.
            settings = replace(
                settings,
                required_consecutive_successes=1,
                interval_between_matches=0.0,
                max_time_to_consistency=min(settings.max_time_to_consistency, 2.0),
            )
        self.settings = settings
        self.session = requests.Session()
        self.applied: dict[tuple[str, str, str], dict[str, Any]] = {}
        self._closed = False
        atexit.register(self.close)

    # -- construction -------------------------------------------------------------------------------------
    @classmethod
    def start(
        cls,
        *,
        profile: str | None = "kgateway",
        backends: Mapping[str, str] | None = None,
        settings: ConsistencySettings | None = None,
    ) -> Playground:
        """The reference gateway and an embedded httpbin (every Service named `httpbin`), plus `backends`
        ({"name[.namespace][:port]": "http://host:port"}) for your own upstreams."""
        return cls.for_target("reference", profile=profile, backends=backends, settings=settings)

    @classmethod
    def for_target(
        cls,
        name: str = "reference",
        options: Mapping[str, Any] | None = None,
        *,
        profile: str | None = "kgateway",
        backends: Mapping[str, str] | None = None,
        settings: ConsistencySettings | None = None,
    ) -> Playground:
        if profile is not None and profile not in PROFILES:
            raise ValueError(f"profile {profile!r}: expected one of {', '.join(PROFILES)}")
        settings = settings or ConsistencySettings.from_env()
        merged: dict[str, Any] = {
            "profiles": profile or ",".join(PROFILES),
            "consistency": settings,
            **dict(options or {}),
        }
        if backends:
            if name not in ("reference", "envoy"):
                raise ValueError(f"backends: target {name!r} cannot reach services on this machine")
            extra = ",".join(f"{k}={v}" for k, v in backends.items())
            merged["backends"] = f"{merged['backends']},{extra}" if merged.get("backends") else extra
        target = make_target(name, merged)  # TargetUnavailable says why it cannot run here
        if profile is not None and profile not in target.profiles:
            raise ValueError(f"target {name!r} implements {sorted(target.profiles)}, not the {profile} profile")
        target.start()
        return cls(target, profile=profile, settings=settings)

    # -- facts --------------------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.target.name

    @property
    def is_reference(self) -> bool:
        return self.target.name == "reference"

    @property
    def store(self) -> Any:
        """The reference gateway's Store (reference target only)."""
        self._need_reference("store")
        return self.target.store  # type: ignore[attr-defined]

    @property
    def admin_url(self) -> str | None:
        return getattr(self.target, "admin_url", None) if self.is_reference else None

    def _need_reference(self, what: str) -> None:
        if not self.is_reference:
            raise NotImplementedError(f"{what}: only the embedded reference gateway has it (target: {self.name})")

    def _listener(self, listener_port: int | None) -> int:
        if listener_port is not None:
            return listener_port
        if self.profile is None:
            raise ValueError("listener_port: required when the playground has no profile")
        return self.profile.listener_port

    def base_url(self, listener_port: int | None = None) -> str:
        return self.target.base_url(self._listener(listener_port))

    def base_manifests(self, host: str = "www.example.com") -> list[dict[str, Any]]:
        """The profile's Gateway and httpbin HTTPRoute: what the guides' "before you begin" steps create."""
        if self.profile is None:
            raise ValueError("base_manifests: the playground has no profile")
        return self.profile.base_manifests(host)

    # -- resources ----------------------------------------------------------------------------------------
    def apply(self, manifests: Manifests) -> ManifestView:
        """Create or update resources from YAML text or dicts, like `kubectl apply -f -`; waits until applied.
        A rejected manifest raises ValueError naming the field."""
        documents = _as_documents(manifests)
        REDACTOR.add_manifests(documents)
        for document in documents:
            if document.get("kind") == "Secret":
                as_stored(document)  # registers the base64 form of stringData values too
        self.target.apply(documents)
        self.target.wait_applied(documents, self.settings.max_time_to_consistency)
        lines = []
        for document in documents:
            key = _key(document)
            lines.append(f"{key[0].lower()}/{key[2]} {'configured' if key in self.applied else 'created'}")
            self.applied[key] = document
        return ManifestView(documents, "kubectl apply -f - <<EOF", lines, heredoc=True)

    def delete(self, manifests: Manifests) -> ManifestView:
        """Delete the resources the manifests name (absent ones are ignored), like `kubectl delete -f -`."""
        documents = _as_documents(manifests)
        self.target.delete(documents)
        self.target.wait_applied(documents, self.settings.max_time_to_consistency)
        lines = []
        for document in documents:
            key = _key(document)
            lines.append(f'{key[0].lower()} "{key[2]}" deleted')
            self.applied.pop(key, None)
        return ManifestView(documents, "kubectl delete -f - <<EOF", lines, heredoc=True)

    def get(self, kind: str, namespace: str, name: str) -> ManifestView:
        """An applied resource as `kubectl get -o yaml` shows it (Secrets base64-encoded), keys redacted."""
        manifest = self.applied.get((kind, namespace, name))
        if manifest is None:
            raise KeyError(f"{kind} {namespace}/{name} was not applied through this playground")
        if self.is_reference and self.store.get(kind, namespace, name) is None:
            raise KeyError(f"{kind} {namespace}/{name} is not in the gateway's store")
        return ManifestView([as_stored(manifest)], f"kubectl get {kind.lower()} {name} -n {namespace} -o yaml")

    def reset(self) -> None:
        """Delete everything applied (and zero the reference gateway's counters)."""
        self.target.reset()
        self.applied.clear()

    # -- requests -----------------------------------------------------------------------------------------
    def request(
        self,
        method: str = "GET",
        path: str = "/headers",
        *,
        host: str = "www.example.com",
        headers: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        query: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        cookies: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        listener_port: int | None = None,
        expect: int | Callable[[ResponseView], str | bool | None] | None = None,
    ) -> ResponseView:
        """Send one request (the profile's listener by default). With `expect` (a status code, or a check that
        returns None / True when satisfied, else why not), re-send until it holds per the consistency settings,
        and raise AssertionError if it never does."""
        spec = RequestSpec(
            method=method.upper(),
            path=path,
            host=host,
            listener_port=self._listener(listener_port),
            headers=_pairs(headers),
            query=_pairs(query),
            cookies=_pairs(cookies),
        )
        for _, value in (*spec.headers, *spec.query, *spec.cookies):
            for candidate in {value, value.partition(" ")[2]}:
                if candidate:
                    REDACTOR.add_if_hashed_key(candidate)  # a key known to the gateway only by its hash
        base_url = self.target.base_url(spec.listener_port or 0)
        attempts = 0

        def attempt() -> ResponseView:
            nonlocal attempts
            attempts += 1
            return ResponseView(send(self.session, base_url, spec), base_url, attempts)

        if expect is None:
            return attempt()

        def check(view: ResponseView) -> str | None:
            if isinstance(expect, int):
                if view.status == expect:
                    return None
                return f"status {view.status}, expected {expect}; body {view.body[:300]!r}"
            verdict = expect(view)
            if verdict is None or verdict is True:
                return None
            return verdict if isinstance(verdict, str) else f"check failed on status {view.status}"

        def redacted_check(view: ResponseView) -> str | None:
            problem = check(view)
            return redacted(f"{spec.method} {spec.target()}: {problem}") if problem else None

        return eventually(attempt, redacted_check, self.settings)

    # -- status and counters ------------------------------------------------------------------------------
    def status(self, kind: str, namespace: str, name: str, *, wait: bool = True) -> ConditionView:
        """The policy's `Accepted` condition; with `wait`, until the implementation has set one."""

        def attempt() -> PolicyCondition | None:
            return self.target.policy_condition(kind, namespace, name)

        condition = attempt()
        if condition is None and wait:
            condition = eventually(
                attempt,
                lambda c: None if c is not None else f"{kind} {namespace}/{name} has no Accepted condition",
                replace(self.settings, required_consecutive_successes=1),
            )
        return ConditionView(kind, namespace, name, condition)

    def stats(self) -> StatsView:
        """Reference: per-client allowed / denied counters from the admin endpoint's /stats.
        Envoy: the api_key_auth filter's own counters."""
        if self.is_reference:
            url = f"{self.admin_url}/stats"
            response = self.session.get(url, timeout=10)
            response.raise_for_status()
            return StatsView(response.json()["clients"], f'curl -s "{url}"')
        stats = getattr(self.target, "stats", None)
        if stats is None:
            raise NotImplementedError(f"stats: target {self.name!r} exposes no counters here")
        return StatsView({"api_key_auth": stats()}, "envoy admin /stats (api_key_auth counters)")

    # -- life cycle ---------------------------------------------------------------------------------------
    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.session.close()
        self.target.close()
        atexit.unregister(self.close)

    def __enter__(self) -> Playground:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "running"
        parts = [f"Playground(target={self.name!r}, {state}"]
        if self.profile is not None and not self._closed:
            parts.append(f", listener {self.profile.listener_port} at {self.base_url()}")
        if self.admin_url and not self._closed:
            parts.append(f", admin {self.admin_url}")
        return "".join(parts) + ")"

    def _repr_html_(self) -> str:
        return _box(f"<pre>{html.escape(repr(self))}</pre>")


def _key(document: Mapping[str, Any]) -> tuple[str, str, str]:
    meta = document.get("metadata") or {}
    return str(document.get("kind")), str(meta.get("namespace", "default")), str(meta.get("name"))


def _pairs(items: Mapping[str, str] | Sequence[tuple[str, str]] | None) -> tuple[tuple[str, str], ...]:
    if not items:
        return ()
    pairs = items.items() if isinstance(items, Mapping) else items
    return tuple((str(k), str(v)) for k, v in pairs)


def show_yaml(manifests: Manifests, command: str = "") -> ManifestView:
    """Show manifests (keys redacted) without applying them."""
    documents = _as_documents(manifests)
    REDACTOR.add_manifests(documents)
    return ManifestView(documents, command)
