"""The conformance report: per-scenario results rolled up per profile into core and extended, as YAML.

It follows Gateway API's ConformanceReport (conformance/apis/v1 in kubernetes-sigs/gateway-api) where it can:
the same implementation block, date, gatewayAPIVersion / gatewayAPIChannel, mode, per-profile core / extended
results and statistics, failed and skipped test lists, and the `<channel>-<version>-<mode>-report.yaml` name.
What it adds (and why) is in the README's "Reports" section; the JSON schema in conformance/schemas/ is the
authority on its shape.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources as importlib_resources
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

from conformance.profiles import PROFILES

API_VERSION = "conformance.apikey-conformance.dev/v1alpha1"
KIND = "ConformanceReport"
UNDEFINED = "UNDEFINED"  # Gateway API's word for a version or channel that could not be determined

PASSED, FAILED, SKIPPED, NOT_SUPPORTED = "passed", "failed", "skipped", "not-supported"
INFRASTRUCTURE = "infrastructure"  # the target could not run the scenario (e.g. did not apply config)
OUTCOMES = (PASSED, FAILED, SKIPPED, NOT_SUPPORTED, INFRASTRUCTURE)

# Section and profile results, most severe first. "error" is this project's own: an infrastructure error
# means the run proves nothing about the scenarios it hit, which is neither a failure nor a partial pass.
RESULTS = ("failure", "error", "partial", "success")

IMPLEMENTATION_FIELDS = ("organization", "project", "url", "version", "contact")
# A version must be a snapshot (commit, tag, release), never a moving branch (Gateway API's reports rules).
BRANCH_NAMES = frozenset({"main", "master", "head", "trunk", "develop", "latest", "dev"})
CONTACT = re.compile(r"^(@[\w.-]+(/[\w.-]+)?|[^@\s]+@[^@\s]+\.[^@\s]+|https?://\S+)$")


@dataclass
class ScenarioResult:
    profile: str
    feature: str
    name: str
    outcome: str  # one of OUTCOMES
    message: str = ""
    duration: float = 0.0
    id: str = ""
    level: str = ""  # core | extended

    def __post_init__(self) -> None:
        if not self.level and self.profile in PROFILES:
            self.level = "core" if self.feature in PROFILES[self.profile].core else "extended"


@dataclass(frozen=True)
class RunFacts:
    """What the report says about the run itself, beside the results."""

    target: str
    command: str = ""
    mode: str = "default"
    gateway_api_version: str = UNDEFINED
    gateway_api_channel: str = UNDEFINED
    versions: Mapping[str, str] = field(default_factory=dict)  # every version involved, filled by the target
    suite_version: str = ""
    selection: Mapping[str, Any] = field(default_factory=dict)  # the filters a subset run used
    consistency: Mapping[str, Any] = field(default_factory=dict)


def implementation_problems(implementation: Mapping[str, Any]) -> list[str]:
    """Why these implementation fields cannot go into a certification report (empty list: they can).

    Gateway API rejects an empty organization, project, url, version or contact; its reports rules also ask
    for a real URL and a version that is a snapshot, not a branch name."""
    problems = []
    for name in IMPLEMENTATION_FIELDS:
        value = implementation.get(name)
        if not value or (isinstance(value, str) and not value.strip()):
            problems.append(f"implementation's {name} cannot be empty (--implementation-{name})")
    url = str(implementation.get("url") or "")
    if url and (urlparse(url).scheme not in ("http", "https") or not urlparse(url).netloc):
        problems.append(f"implementation's url {url!r} is not an http(s) URL")
    version = str(implementation.get("version") or "")
    if version and version.lower() in BRANCH_NAMES:
        problems.append(f"implementation's version {version!r} is a branch name, not a snapshot (tag or commit)")
    for contact in implementation.get("contact") or []:
        if not CONTACT.match(str(contact)):
            problems.append(f"implementation's contact {contact!r}: expected @user, @org/team, an email or a URL")
    return problems


def _worst(results: Iterable[str]) -> str:
    results = list(results)
    return next((r for r in RESULTS if r in results), "success")


def _section(
    results: list[ScenarioResult], features: Iterable[str], supported: set[str], not_run: list[str]
) -> dict[str, Any]:
    counted = [r for r in results if r.outcome != NOT_SUPPORTED]
    statistics = {
        "Passed": sum(r.outcome == PASSED for r in counted),
        "Failed": sum(r.outcome == FAILED for r in counted),
        "Skipped": sum(r.outcome == SKIPPED for r in counted),
        "InfrastructureErrors": sum(r.outcome == INFRASTRUCTURE for r in counted),
        "NotRun": len(not_run),
    }
    if statistics["Failed"]:
        result = "failure"
    elif statistics["InfrastructureErrors"]:
        result = "error"
    elif statistics["Skipped"] or statistics["NotRun"]:
        result = "partial"
    else:
        result = "success"
    section: dict[str, Any] = {"result": result, "statistics": statistics}
    feature_list = list(features)
    section["supportedFeatures"] = [f for f in feature_list if f in supported]
    section["unsupportedFeatures"] = [f for f in feature_list if f not in supported]
    for key, outcome in (("failedTests", FAILED), ("skippedTests", SKIPPED), ("infrastructureErrors", INFRASTRUCTURE)):
        names = [r.name for r in counted if r.outcome == outcome]
        if names:
            section[key] = names
    if not_run:
        section["notRunTests"] = not_run
    return section


def _summary_line(core: Mapping[str, Any], extended: Mapping[str, Any]) -> str:
    def part(label: str, section: Mapping[str, Any]) -> str:
        s = section["statistics"]
        text = f"{label} {section['result']}: {s['Passed']} passed, {s['Failed']} failed, {s['Skipped']} skipped"
        if s["InfrastructureErrors"]:
            text += f", {s['InfrastructureErrors']} infrastructure errors"
        if s["NotRun"]:
            text += f", {s['NotRun']} not run"
        return text

    return f"{part('core', core)}; {part('extended', extended)}"


def build_report(
    results: list[ScenarioResult],
    *,
    facts: RunFacts,
    profiles: Iterable[str],
    supported: Mapping[str, set[str]],
    implementation: Mapping[str, Any],
    expected: Mapping[str, Iterable[tuple[str, str, str]]] | None = None,
    divergences: list[dict[str, str]] | None = None,
    versions_under_test: Mapping[str, Mapping[str, Any]] | None = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """`supported` maps profile -> supported feature names; `expected` maps profile -> (id, feature, name) of
    every scenario a complete run of it runs (None: whatever ran is complete); `versions_under_test` maps
    profile -> {version, source, newerFeatures}: the implementation release its scenarios were judged against."""
    ran = {r.id for r in results}
    report: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "date": (now or dt.datetime.now(dt.UTC)).replace(microsecond=0).isoformat(),
        "implementation": {
            name: implementation.get(name) or ([] if name == "contact" else "") for name in IMPLEMENTATION_FIELDS
        },
        "gatewayAPIVersion": facts.gateway_api_version,
        "gatewayAPIChannel": facts.gateway_api_channel,
        "mode": facts.mode,
        "suite": {"name": "apikey-conformance", "version": facts.suite_version or UNDEFINED},
        "target": {"name": facts.target, "versions": dict(facts.versions)},
        "profiles": [],
    }
    not_run_total = 0
    for name in profiles:
        profile = PROFILES[name]
        missing = [
            (feature, scenario_name)
            for scenario_id, feature, scenario_name in (expected or {}).get(name, ())
            if scenario_id not in ran
        ]
        not_run_total += len(missing)
        if not supported.get(name):
            report["profiles"].append(
                {
                    "name": name,
                    "description": profile.description,
                    "result": "not-supported",
                    "summary": f"{facts.target} does not implement this profile; its scenarios were not run",
                }
            )
            continue
        own = [r for r in results if r.profile == name]
        sections = {}
        for level, features in (("core", profile.core), ("extended", profile.extended)):
            sections[level] = _section(
                [r for r in own if r.feature in features],
                features,
                supported.get(name, set()),
                [scenario_name for feature, scenario_name in missing if feature in features],
            )
        judged = (versions_under_test or {}).get(name)
        report["profiles"].append(
            {
                "name": name,
                "description": profile.description,
                "result": _worst(s["result"] for s in sections.values()),
                "summary": _summary_line(sections["core"], sections["extended"]),
                **({"implementationVersion": dict(judged)} if judged else {}),
                **sections,
            }
        )
    if divergences:
        report["knownDivergences"] = divergences
    complete = not_run_total == 0
    problems = []
    if not complete:
        problems.append(f"a subset ran: {not_run_total} scenario(s) of the chosen profiles did not run")
    problems += implementation_problems(report["implementation"])
    # A profile the target does not implement is reported for information only (Gateway API leaves it out).
    tested = [p for p in report["profiles"] if p["result"] != "not-supported"]
    if not tested:
        problems.append("no profile was tested")
    for profile_report in tested:
        if profile_report["result"] not in ("success", "partial"):
            problems.append(f"profile {profile_report['name']} result is {profile_report['result']}")
    report["run"] = {
        "complete": complete,
        "scenarios": len(results),
        "notRun": not_run_total,
        **({"selection": dict(facts.selection)} if facts.selection else {}),
        **({"consistency": dict(facts.consistency)} if facts.consistency else {}),
        "reproduce": facts.command,
    }
    report["certification"] = {"eligible": not problems, **({"reasons": problems} if problems else {})}
    report["scenarios"] = [
        {
            "id": r.id,
            "profile": r.profile,
            "feature": r.feature,
            "level": r.level,
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
            str(item.get("id", "")),
            str(item.get("level", "")),
        )
        for item in report.get("scenarios") or []
    ]


# -- where reports go ------------------------------------------------------------------------------------------
def subset_path(path: Path) -> Path:
    """Where a subset run's report goes: never the full run's file (`report.yaml` -> `report.subset.yaml`)."""
    return path.with_name(f"{path.stem}.subset{path.suffix or '.yaml'}")


def certification_name(report: Mapping[str, Any]) -> str:
    """Gateway API's file name for a submitted report: `<channel>-<implementation version>-<mode>-report.yaml`."""
    version = str(report["implementation"].get("version") or UNDEFINED)
    safe = re.sub(r"[^A-Za-z0-9._+-]", "_", version)
    return f"{report['gatewayAPIChannel']}-{safe}-{report['mode']}-report.yaml"


def write_report(report: Mapping[str, Any], path: Path) -> Path:
    validate(report)  # never publish a report that does not match the schema it claims
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(dict(report), sort_keys=False, width=120), encoding="utf-8")
    return path


def schema() -> dict[str, Any]:
    text = importlib_resources.files("conformance.schemas").joinpath("conformance-report.schema.json").read_text()
    return json.loads(text)


def validate(report: Mapping[str, Any]) -> None:
    """Raise jsonschema.ValidationError naming the field if `report` does not match the shipped schema."""
    import jsonschema

    jsonschema.validate(json.loads(json.dumps(report)), schema())


# -- tables ---------------------------------------------------------------------------------------------------
SUMMARY_HEADER = ("profile", "feature", "level", "passed", "failed", "skipped", "not supported", "infrastructure")


def summary_table(results: list[ScenarioResult]) -> list[tuple[Any, ...]]:
    """(profile, feature, level, passed, failed, skipped, not supported, infrastructure) in profile feature order."""
    rows = []
    for name, profile in PROFILES.items():
        for feature in profile.features:
            mine = [r for r in results if r.profile == name and r.feature == feature]
            if not mine:
                continue
            level = "core" if feature in profile.core else "extended"
            counts = [sum(r.outcome == outcome for r in mine) for outcome in OUTCOMES]
            rows.append((name, feature, level, *counts))
    return rows


def format_table(rows: list[tuple[Any, ...]], header: tuple[str, ...] = SUMMARY_HEADER) -> str:
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(header)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
    return "\n".join(lines)
