"""Conformance runs in a notebook: run the suite in a subprocess, read its report, show it as tables and a chart."""

from __future__ import annotations

import io
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from conformance.notebook.render import box, esc, frame, muted, redacted, table
from conformance.profiles import PROFILES
from conformance.redact import REDACTOR
from conformance.report import (
    FAILED,
    INFRASTRUCTURE,
    NOT_SUPPORTED,
    PASSED,
    SKIPPED,
    SUMMARY_HEADER,
    ScenarioResult,
    scenario_results,
    subset_path,
    summary_table,
)

SCENARIO_COLUMNS = ("profile", "feature", "level", "scenario", "outcome", "seconds", "message", "id")


@dataclass
class ScenarioTable:
    """Per-scenario results of a conformance run."""

    results: list[ScenarioResult]
    empty: str = "no scenarios"

    def frame(self) -> pd.DataFrame:
        rows = [
            (r.profile, r.feature, r.level, r.name, r.outcome, round(r.duration, 2), r.message[:300], r.id)
            for r in self.results
        ]
        return frame(rows, SCENARIO_COLUMNS)

    def __repr__(self) -> str:
        lines = [f"{r.outcome:<14} {r.profile}/{r.feature}: {r.name}" for r in self.results]
        return redacted("\n".join(lines) or f"({self.empty})")

    def _repr_html_(self) -> str:
        return box(table(self.frame(), colour=("outcome",), empty=self.empty))


def _overall(profiles: list[dict[str, Any]]) -> str:
    results = [str(p.get("result")) for p in profiles]
    if not results:
        return "no-profiles"
    return next((word for word in ("failure", "error", "partial", "success") if word in results), results[0])


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
    return sorted(scenarios, key=lambda r: (order.get((r.profile, r.feature), 1 << 20), r.id, r.name))


def shown_path(path: Path | None, root: Path | None = None) -> str:
    """A path as a reader should see it: relative to the project (or working directory) when it is inside."""
    if path is None:
        return ""
    for base in (root or project_root(), Path.cwd()):
        try:
            return str(Path(path).resolve().relative_to(base.resolve()))
        except ValueError:
            continue
    return str(path)


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
        target = self.report.get("target", "")
        return str(target.get("name", "") if isinstance(target, Mapping) else target)

    @property
    def profiles(self) -> list[dict[str, Any]]:
        return list(self.report.get("profiles") or [])

    @property
    def result(self) -> str:
        """failure, else error (infrastructure), else partial (skips, or a subset ran), else success."""
        return _overall(self.profiles)

    @property
    def complete(self) -> bool:
        """Every scenario of every chosen profile ran (not a subset)."""
        return bool((self.report.get("run") or {}).get("complete", True))

    @property
    def certification(self) -> dict[str, Any]:
        return dict(self.report.get("certification") or {})

    def profile(self, name: str) -> dict[str, Any]:
        for profile in self.profiles:
            if profile.get("name") == name:
                return profile
        raise KeyError(f"profile {name!r} is not in the report; it has {[p.get('name') for p in self.profiles]}")

    @property
    def totals(self) -> dict[str, int]:
        """passed / failed / skipped / infrastructure (counted in the statistics) and not-supported scenarios."""
        totals = {PASSED: 0, FAILED: 0, SKIPPED: 0, NOT_SUPPORTED: 0, INFRASTRUCTURE: 0}
        for r in self.scenarios:
            totals[r.outcome] = totals.get(r.outcome, 0) + 1
        return totals

    @property
    def ok(self) -> bool:
        """No failed scenario, no infrastructure error, and (when run here) pytest exited cleanly."""
        return self.totals[FAILED] == 0 and self.totals[INFRASTRUCTURE] == 0 and self.returncode in (None, 0)

    def rows(self) -> list[tuple[Any, ...]]:
        """(profile, feature, level, passed, failed, skipped, not supported, infrastructure) per feature."""
        return summary_table(self.scenarios)

    def features_frame(self) -> pd.DataFrame:
        return frame(self.rows(), SUMMARY_HEADER)

    def profiles_frame(self) -> pd.DataFrame:
        rows = []
        for p in self.profiles:
            core, extended = p.get("core") or {}, p.get("extended") or {}
            rows.append((p.get("name"), p.get("result"), core.get("result", "-"), extended.get("result", "-")))
        return frame(rows, ("profile", "result", "core", "extended"))

    def scenario_table(self, outcomes: Iterable[str] | None = None) -> ScenarioTable:
        wanted = set(outcomes) if outcomes is not None else None
        chosen = [r for r in self.scenarios if wanted is None or r.outcome in wanted]
        empty = "no scenarios" if wanted is None else f"no {' or '.join(sorted(wanted))} scenarios"
        return ScenarioTable(chosen, empty=empty)

    def failures(self) -> ScenarioTable:
        return self.scenario_table([FAILED, INFRASTRUCTURE])

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
            ("passed", SUMMARY_HEADER.index("passed"), "#2da44e"),
            ("skipped", SUMMARY_HEADER.index("skipped"), "#d4a72c"),
            ("failed", SUMMARY_HEADER.index("failed"), "#cf222e"),
            ("infrastructure", SUMMARY_HEADER.index("infrastructure"), "#8250df"),
            ("not supported", SUMMARY_HEADER.index("not supported"), "#afb8c1"),
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

    def save_chart(self, path: str | Path) -> Path:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        self.chart().savefig(target, dpi=100)
        return target

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

    # -- rendering --------------------------------------------------------------------------------------
    def where(self) -> list[tuple[str, str]]:
        """(what, where) with paths relative to the project: the report, the allure results, how to see them."""
        where = []
        if self.report_path is not None:
            where.append(("report (YAML)", shown_path(self.report_path)))
        if self.allure_dir is not None:
            results = shown_path(self.allure_dir)
            where.append(("allure results", results))
            where.append(("allure HTML", f"tox -e report -- {results}"))
        if self.command:
            where.append(("command", self.command))
        return where

    def headline(self) -> str:
        took = f", {self.duration:.1f}s" if self.duration is not None else ""
        scope = "" if self.complete else " (SUBSET: not a certification run)"
        return f"target {self.target}: {self.result}{scope}{took}"

    def __repr__(self) -> str:
        lines = [self.headline() + "  " + "  ".join(f"{k}={v}" for k, v in self.totals.items() if v)]
        for profile in self.profiles:
            lines.append(f"  {profile.get('name')}: {profile.get('result')} - {profile.get('summary', '')}")
        lines += [f"  {what}: {where}" for what, where in self.where()]
        return redacted("\n".join(lines))

    def _repr_html_(self) -> str:
        css = {"success": "ok", "failure": "bad", "error": "bad", "partial": "warn"}.get(self.result, "muted")
        implementation = self.report.get("implementation") or {}
        who = " ".join(str(implementation.get(k) or "") for k in ("organization", "project", "version")).strip()
        versions = ", ".join(f"{k} {v}" for k, v in ((self.report.get("target") or {}).get("versions") or {}).items())
        inner = (
            f"<div><b>target {esc(self.target)}</b>{' (' + esc(who) + ')' if who else ''}: "
            f'<span class="{css}">{esc(self.result)}</span>'
            f' <span class="muted">{esc(self.report.get("date", ""))}'
            f"{', ' + esc(f'{self.duration:.1f}s') if self.duration is not None else ''}</span></div>"
        )
        if versions:
            inner += muted(f"versions: {versions}; Gateway API {self.report.get('gatewayAPIVersion', '?')}")
        if not self.complete:
            inner += '<div class="warn">subset run: not every scenario ran, so no profile can be certified</div>'
        inner += table(self.profiles_frame(), colour=("result", "core", "extended"))
        inner += table(self.features_frame())
        problems = self.failures()
        inner += table(problems.frame(), colour=("outcome",), empty="no failed scenarios and no infrastructure errors")
        inner += table(frame(self.where(), ("what", "where")))
        return box(inner)


def project_root(start: str | Path | None = None) -> Path:
    """The checkout this module belongs to when run from one (the folder with pyproject.toml above `start`, the
    working directory by default); else the working directory. Notebooks run in notebooks/, reports go to the root."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file() and (folder / "conformance").is_dir():
            return folder
    return here


def register_suite_keys() -> int:
    """Register every key the suite's scenarios use (their Secrets and ConfigMaps) for redaction in this process,
    so a notebook that shows a run's output, and its leak check, know them. Returns how many key forms are known."""
    from conformance.scenarios import steps
    from conformance.suite import features_dir

    for path in sorted(features_dir().rglob("*.feature")):
        for step in steps(path):
            if step.get("docString"):
                try:
                    REDACTOR.add_manifests([d for d in yaml.safe_load_all(step["docString"]["content"]) if d])
                except yaml.YAMLError:
                    continue
            for row in (step.get("dataTable") or {}).get("rows") or []:
                # a key known only by its keyHash, as the scenario presents it
                REDACTOR.add_presented(cell["value"] for cell in row["cells"])
    return len(REDACTOR.secrets)


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
    first. Extra pytest or harness options go in `extra_args`. The suite's keys are registered for redaction here
    too, so nothing this returns (or a cell shows) carries one."""
    register_suite_keys()
    out = Path(folder).resolve() if folder else project_root() / "reports" / "notebook-conformance"
    out.mkdir(parents=True, exist_ok=True)
    report = out / "conformance-report.yaml"
    allure = out / "allure-results"
    for stale in (report, subset_path(report)):
        stale.unlink(missing_ok=True)
    if allure.is_dir():
        shutil.rmtree(allure)
    command = [sys.executable, "-m", "conformance.cli", "-q", "--target", target]
    command += ["--conformance-report", str(report), "--alluredir", str(allure)]
    if profile:
        command += ["--profile", profile]
    for key, value in (target_options or {}).items():
        command += ["--target-option", f"{key}={value}"]
    command += list(extra_args)
    started = time.monotonic()
    completed = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    output = redacted((completed.stdout + completed.stderr)[-6000:])
    written = next((path for path in (report, subset_path(report)) if path.is_file()), None)
    if written is None:
        raise RuntimeError(f"the conformance run wrote no report (pytest exit code {completed.returncode}):\n{output}")
    summary = RunSummary.load(written, allure_dir=allure)
    summary.returncode = completed.returncode
    # As a reader would type it (without -q): `apikey-conformance`, paths relative to the project.
    shown = ["apikey-conformance", *command[4:]]
    summary.command = redacted(shlex.join(shown).replace(str(project_root()) + os.sep, ""))
    summary.output = output
    summary.duration = time.monotonic() - started
    return summary
