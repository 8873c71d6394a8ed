"""Allure results that read as a certification record.

During the run (`label_scenario`): suites by profile -> feature -> Gherkin feature, the level (core / extended)
as a label, tag and severity, the scenario's stable id, and for a Scenario Outline example its row as a
parameter, so examples whose only parameter is a (redacted) key stay distinct tests.

After the run (`finish`): per-machine noise (host, thread labels) and the steps' `scenario_context` fixture
parameter (a repr of harness objects) are removed, every key is redacted, and `environment.properties` records
the target, the versions involved and how many scenarios ran (the HTML report must hold exactly that many tests).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from conformance.redact import REDACTOR
from conformance.scenarios import ScenarioInfo

NOISE_LABELS = frozenset({"host", "thread"})
# Step function arguments that are harness objects, not scenario data.
HIDDEN_STEP_PARAMETERS = frozenset({"scenario_context"})
ENVIRONMENT_FILE = "environment.properties"
SCENARIO_LABEL = "scenarioId"
TOTAL_KEY = "scenarios.total"


def label_scenario(info: ScenarioInfo) -> None:
    """Label the running test case (call while pytest-bdd runs the scenario: allure has scheduled it)."""
    import allure

    allure.dynamic.parent_suite(info.profile)
    allure.dynamic.suite(info.feature)
    allure.dynamic.sub_suite(info.feature_title or info.feature)
    allure.dynamic.epic(info.profile)
    allure.dynamic.feature(info.feature)
    allure.dynamic.story(info.feature_title or info.name)
    allure.dynamic.tag(info.level)
    allure.dynamic.label("level", info.level)
    allure.dynamic.label(SCENARIO_LABEL, info.id)
    allure.dynamic.severity(allure.severity_level.CRITICAL if info.level == "core" else allure.severity_level.NORMAL)
    if info.example_line is not None:
        allure.dynamic.parameter("example", f"line {info.example_line}")
        allure.dynamic.title(f"{info.name} (example, line {info.example_line})")


def write_skipped(folder: Path, info: ScenarioInfo, reason: str, start: float, stop: float) -> Path:
    """A result for a scenario skipped before it started (NOT_SUPPORTED, --skip-scenarios): allure-pytest-bdd
    only records scenarios that start, and the report must hold every scenario the run recorded."""
    folder.mkdir(parents=True, exist_ok=True)
    labels = [
        ("parentSuite", info.profile),
        ("suite", info.feature),
        ("subSuite", info.feature_title or info.feature),
        ("epic", info.profile),
        ("feature", info.feature),
        ("story", info.feature_title or info.name),
        ("tag", info.level),
        ("level", info.level),
        (SCENARIO_LABEL, info.id),
        ("severity", "critical" if info.level == "core" else "normal"),
        ("framework", "pytest-bdd"),
    ]
    identifier = str(uuid.uuid4())
    result: dict[str, Any] = {
        "uuid": identifier,
        "name": info.name if info.example_line is None else f"{info.name} (example, line {info.example_line})",
        "status": "skipped",
        "statusDetails": {"message": REDACTOR.redact(reason)},
        "start": int(start * 1000),
        "stop": int(stop * 1000),
        "labels": [{"name": name, "value": value} for name, value in labels],
        "parameters": [{"name": "example", "value": f"line {info.example_line}"}] if info.example_line else [],
    }
    path = folder / f"{identifier}-result.json"
    path.write_text(json.dumps(clean_result(result)), encoding="utf-8")
    return path


def _strip_steps(steps: list[dict[str, Any]]) -> None:
    for step in steps:
        step["parameters"] = [p for p in step.get("parameters") or [] if p.get("name") not in HIDDEN_STEP_PARAMETERS]
        if not step["parameters"]:
            del step["parameters"]
        _strip_steps(step.get("steps") or [])


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def clean_result(result: dict[str, Any]) -> dict[str, Any]:
    """One `*-result.json`: without noise labels and hidden parameters, identified by the scenario id."""
    result["labels"] = [label for label in result.get("labels") or [] if label.get("name") not in NOISE_LABELS]
    _strip_steps(result.get("steps") or [])
    labels = {label.get("name"): label.get("value") for label in result["labels"]}
    suites = [labels[name] for name in ("parentSuite", "suite", "subSuite") if labels.get(name)]
    if suites:
        result["titlePath"] = suites  # Allure 3 builds its tree from it: profile -> feature -> Gherkin feature
    scenario = labels.get(SCENARIO_LABEL)
    if scenario:
        # A stable identity: the scenario (file:line) and, for an Outline example, its row.
        result["fullName"] = scenario
        result["testCaseId"] = _md5(scenario.split("@")[0])
        result["historyId"] = _md5(scenario)
    return result


def write_environment(folder: Path, environment: Mapping[str, Any]) -> Path:
    """Allure's environment block (`key=value` lines; keys cannot hold spaces or separators)."""
    lines = []
    for key, value in environment.items():
        safe_key = "".join(c if c.isalnum() or c in "._-" else "_" for c in str(key))
        text = str(value).replace("\\", "\\\\").replace("\n", " ")
        lines.append(f"{safe_key}={text}")
    path = folder / ENVIRONMENT_FILE
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def read_environment(folder: Path) -> dict[str, str]:
    path = folder / ENVIRONMENT_FILE
    if not path.is_file():
        return {}
    entries = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            entries[key.strip()] = value.strip()
    return entries


def finish(folder: Path, environment: Mapping[str, Any]) -> int:
    """Clean every result file, write the environment block, redact every key. Returns the result count."""
    if not folder.is_dir():
        return 0
    results = sorted(folder.glob("*-result.json"))
    for path in results:
        try:
            result = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        path.write_text(json.dumps(clean_result(result)), encoding="utf-8")
    write_environment(folder, environment)
    REDACTOR.redact_tree(folder)
    return len(results)
