"""The conformance report: per-scenario results rolled up per profile into core and extended, as YAML."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from conformance.profiles import PROFILES

API_VERSION = "conformance.apikey-conformance.dev/v1alpha1"
KIND = "ConformanceReport"

PASSED, FAILED, SKIPPED, NOT_SUPPORTED = "passed", "failed", "skipped", "not-supported"


@dataclass
class ScenarioResult:
    profile: str
    feature: str
    name: str
    outcome: str  # passed | failed | skipped | not-supported
    message: str = ""
    duration: float = 0.0


def _result(statistics: Mapping[str, int]) -> str:
    if statistics["Failed"]:
        return "failure"
    if statistics["Skipped"]:
        return "partial"
    return "success"


def _section(results: list[ScenarioResult], features: Iterable[str], supported: set[str]) -> dict[str, Any]:
    counted = [r for r in results if r.outcome != NOT_SUPPORTED]
    statistics = {
        "Passed": sum(r.outcome == PASSED for r in counted),
        "Failed": sum(r.outcome == FAILED for r in counted),
        "Skipped": sum(r.outcome == SKIPPED for r in counted),
    }
    section: dict[str, Any] = {"result": _result(statistics), "statistics": statistics}
    feature_list = list(features)
    section["supportedFeatures"] = [f for f in feature_list if f in supported]
    section["unsupportedFeatures"] = [f for f in feature_list if f not in supported]
    failed = [r.name for r in counted if r.outcome == FAILED]
    skipped = [r.name for r in counted if r.outcome == SKIPPED]
    if failed:
        section["failedTests"] = failed
    if skipped:
        section["skippedTests"] = skipped
    return section


def build_report(
    results: list[ScenarioResult],
    *,
    target: str,
    profiles: Iterable[str],
    supported: Mapping[str, set[str]],
    implementation: Mapping[str, Any],
    divergences: list[dict[str, str]] | None = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """`supported` maps profile -> supported feature names for that profile."""
    report: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "date": (now or dt.datetime.now(dt.UTC)).replace(microsecond=0).isoformat(),
        "implementation": dict(implementation),
        "target": target,
        "mode": "default",
        "profiles": [],
    }
    for name in profiles:
        profile = PROFILES[name]
        if not supported.get(name):
            report["profiles"].append(
                {
                    "name": name,
                    "description": profile.description,
                    "result": "not-supported",
                    "summary": f"{target} does not implement this profile; its scenarios were not run",
                }
            )
            continue
        own = [r for r in results if r.profile == name]
        core = [r for r in own if r.feature in profile.core]
        extended = [r for r in own if r.feature in profile.extended]
        profile_supported = supported.get(name, set())
        core_section = _section(core, profile.core, profile_supported)
        extended_section = _section(extended, profile.extended, profile_supported)
        if core_section["result"] == "failure" or extended_section["result"] == "failure":
            summary = "failure"
        elif core_section["result"] == "partial" or extended_section["result"] == "partial":
            summary = "partial"
        else:
            summary = "success"
        report["profiles"].append(
            {
                "name": name,
                "description": profile.description,
                "result": summary,
                "core": core_section,
                "extended": extended_section,
                "summary": _summary_line(core_section, extended_section),
            }
        )
    if divergences:
        report["knownDivergences"] = divergences
    report["scenarios"] = [
        {
            "profile": r.profile,
            "feature": r.feature,
            "name": r.name,
            "result": r.outcome,
            **({"message": r.message} if r.message else {}),
            "durationSeconds": round(r.duration, 3),
        }
        for r in results
    ]
    return report


def scenario_results(report: Mapping[str, Any]) -> list[ScenarioResult]:
    """The per-scenario results a report carries, back as ScenarioResult objects."""
    return [
        ScenarioResult(
            str(item["profile"]),
            str(item["feature"]),
            str(item["name"]),
            str(item["result"]),
            str(item.get("message", "")),
            float(item.get("durationSeconds", 0.0)),
        )
        for item in report.get("scenarios") or []
    ]


def _summary_line(core: Mapping[str, Any], extended: Mapping[str, Any]) -> str:
    def part(label: str, section: Mapping[str, Any]) -> str:
        s = section["statistics"]
        return f"{label} {s['Passed']} passed, {s['Failed']} failed, {s['Skipped']} skipped"

    return f"{part('core:', core)}; {part('extended:', extended)}"


def write_report(report: Mapping[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(dict(report), sort_keys=False, width=120), encoding="utf-8")
    return path


def summary_table(results: list[ScenarioResult]) -> list[tuple[str, str, int, int, int, int]]:
    """(profile, feature, passed, failed, skipped, not supported) rows in profile feature order."""
    rows = []
    for name, profile in PROFILES.items():
        for feature in profile.features:
            mine = [r for r in results if r.profile == name and r.feature == feature]
            if not mine:
                continue
            rows.append(
                (
                    name,
                    feature,
                    sum(r.outcome == PASSED for r in mine),
                    sum(r.outcome == FAILED for r in mine),
                    sum(r.outcome == SKIPPED for r in mine),
                    sum(r.outcome == NOT_SUPPORTED for r in mine),
                )
            )
    return rows


def format_table(rows: list[tuple[str, str, int, int, int, int]]) -> str:
    header = ("profile", "feature", "passed", "failed", "skipped", "not supported")
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(header))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(row)) for row in rows]
    return "\n".join(lines)
