"""A differential run's outputs: the divergence report (YAML, every key redacted), the scenarios (a feature file),
and the terminal summary."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import yaml

from conformance.differential import gherkin
from conformance.differential.model import request_dict
from conformance.differential.runner import DifferentialResult, Divergence
from conformance.redact import REDACTOR

API_VERSION = "conformance.apikey-conformance.dev/v1alpha1"


def _divergence_entry(divergence: Divergence, scenarios_path: Path | None) -> dict[str, Any]:
    """One divergence; the parts that can hold a key (the request, the differences, notes) are redacted."""
    outcome = divergence.outcome
    entry: dict[str, Any] = {
        "number": divergence.number,
        "signature": list(divergence.signature),
        "known": list(divergence.known),
        "shrunk": divergence.shrunk,
        "generatedRequests": divergence.requests,
        "request": _redacted(request_dict(outcome.request)),
        "differences": _redacted(
            [
                {"aspect": d.aspect, **({"name": d.name} if d.name else {}), "a": d.a, "b": d.b}
                for d in outcome.differences
            ]
        ),
        "scenario": {
            "reproducible": divergence.reproducible,
            "notes": _redacted(divergence.notes),
            "title": _redacted(
                next(
                    (
                        line.split("Scenario: ", 1)[1]
                        for line in divergence.scenario.splitlines()
                        if "Scenario: " in line
                    ),
                    "",
                )
            ),
        },
    }
    if scenarios_path is not None:
        entry["scenario"]["file"] = str(scenarios_path)
    return entry


def build_report(result: DifferentialResult, scenarios_path: Path | None = None) -> dict[str, Any]:
    settings = result.settings
    known = []
    for tally in result.known.values():
        item: dict[str, Any] = {**tally.entry.as_dict(), "requests": tally.requests}
        if tally.example is not None:
            item["example"] = _divergence_entry(tally.example, None)
        known.append(item)
    report = {
        "apiVersion": API_VERSION,
        "kind": "DifferentialReport",
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "profile": settings.profile,
        "targets": {"a": result.labels[0], "b": result.labels[1], "baseline": result.labels[1]},
        "versions": result.versions,
        "run": {
            "seed": settings.seed,
            "examples": settings.examples,
            "maxRequestsPerPolicy": settings.max_requests,
            "reproduce": settings.command(),
            "elapsedSeconds": round(result.elapsed, 1),
        },
        "compared": {
            "policies": result.policies,
            "requests": result.requests,
            "requestsSent": result.not_sent is None,
            "shrinkingPolicies": result.shrink_policies,
            "shrinkingRequests": result.shrink_requests,
            "unstable": result.unstable,
        },
        "result": "failure" if result.failed else "success",
        "divergences": [_divergence_entry(d, scenarios_path) for d in result.unknown],
        "knownDivergences": known,
        "knownWithoutMatch": [tally.entry.id for tally in result.known.values() if not tally.requests],
    }
    return report


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return REDACTOR.redact(value)
    if isinstance(value, dict):
        return {k: _redacted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(v) for v in value]
    return value


def write_report(result: DifferentialResult, path: Path, scenarios_path: Path | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(build_report(result, scenarios_path), sort_keys=False, width=120, allow_unicode=True)
    path.write_text(text, encoding="utf-8")
    return path


def scenarios_text(result: DifferentialResult) -> str:
    """Every divergence's scenario (unknown ones first, then shrunk known ones) as one runnable feature file."""
    scenarios = [d.scenario for d in result.divergences if d.scenario]
    label_a, label_b = result.labels
    description = (
        f"Found by a differential run of {label_a} against {label_b}: each scenario states what {label_b} did.\n"
        f"Reproduce: {result.settings.command()}"
    )
    return gherkin.feature_file(
        result.settings.profile, f"Differences between {label_a} and {label_b}", description, scenarios
    )


def write_scenarios(result: DifferentialResult, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(scenarios_text(result), encoding="utf-8")
    return path


def summary_lines(result: DifferentialResult) -> list[str]:
    """The terminal summary: counts, then each divergence in one line (redacted)."""
    label_a, label_b = result.labels
    requests = f"{result.requests} requests" if result.not_sent is None else f"no request ({result.requests} not sent)"
    lines = [
        f"differential {label_a} against {label_b} ({result.settings.profile}, seed {result.settings.seed}): "
        f"compared {result.policies} policies and {requests} "
        f"(+{result.shrink_policies} policies and {result.shrink_requests} requests while shrinking) "
        f"in {result.elapsed:.1f}s",
    ]
    if result.not_sent:
        lines.append(f"only the policies' status and translation were compared: {result.not_sent}")
    if result.unstable:
        lines.append(f"{result.unstable} difference(s) did not repeat when sent again and were not counted")
    for tally in result.known.values():
        if tally.requests:
            lines.append(f"known divergence {tally.entry.id}: {tally.requests} request(s) ({tally.entry.status})")
    for divergence in result.unknown:
        shrunk = "shrunk" if divergence.shrunk else "not shrunk"
        reproducible = "" if divergence.reproducible else "; the suite's steps cannot show it"
        lines.append(
            REDACTOR.redact(
                f"DIVERGENCE {divergence.number}: {', '.join(divergence.signature)} "
                f"({divergence.requests} generated request(s), {shrunk}{reproducible})"
            )
        )
    lines.append(
        "result: " + ("FAILURE" if result.failed else "success") + f" ({len(result.unknown)} unknown divergence(s))"
    )
    return lines
