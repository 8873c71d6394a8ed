"""The report's roll-up, its certification rules and its schema, on results built by hand."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import jsonschema
import pytest
import yaml

from conformance.profiles import PROFILES
from conformance.report import (
    FAILED,
    INFRASTRUCTURE,
    NOT_SUPPORTED,
    PASSED,
    SKIPPED,
    RunFacts,
    ScenarioResult,
    build_report,
    certification_name,
    implementation_problems,
    scenario_results,
    subset_path,
    validate,
    write_report,
)

FACTS = RunFacts(target="t", gateway_api_version="v1.5.0", gateway_api_channel="standard", suite_version="0.1.0")
VENDOR = {
    "organization": "example-org",
    "project": "example-gateway",
    "url": "https://github.com/example-org/example-gateway",
    "version": "v1.2.3",
    "contact": ["@example-org/maintainers"],
}
ALL_KGATEWAY = {"kgateway": set(PROFILES["kgateway"].features)}


def _results(outcomes: dict[str, str]) -> list[ScenarioResult]:
    return [
        ScenarioResult("kgateway", feature, f"{feature} scenario", outcome, id=f"kgateway/f.feature:{line}")
        for line, (feature, outcome) in enumerate(outcomes.items(), start=1)
    ]


def _report(results: list[ScenarioResult], **kwargs: object) -> dict:
    arguments: dict = {"facts": FACTS, "profiles": ["kgateway"], "supported": ALL_KGATEWAY, "implementation": {}}
    arguments.update(kwargs)
    report = build_report(results, **arguments)
    validate(report)  # every report the tests build must match the shipped schema
    return report


def test_result_is_success_partial_or_failure_and_not_supported_is_left_out() -> None:
    supported = {"kgateway": set(PROFILES["kgateway"].features) - {"APIKeyAuthCookieSource"}}
    results = _results({"APIKeyAuth": PASSED, "APIKeyAuthQuerySource": PASSED, "APIKeyAuthCookieSource": NOT_SUPPORTED})
    profile = _report(results, supported=supported)["profiles"][0]
    assert profile["result"] == "success"
    assert profile["extended"]["unsupportedFeatures"] == ["APIKeyAuthCookieSource"]
    assert profile["extended"]["statistics"] == {
        "Passed": 1,
        "Failed": 0,
        "Skipped": 0,
        "InfrastructureErrors": 0,
        "NotRun": 0,
    }

    profile = _report(_results({"APIKeyAuth": PASSED, "APIKeyAuthQuerySource": SKIPPED}))["profiles"][0]
    assert (profile["result"], profile["core"]["result"]) == ("partial", "success")
    assert profile["extended"]["skippedTests"] == ["APIKeyAuthQuerySource scenario"]

    profile = _report(_results({"APIKeyAuth": FAILED, "APIKeyAuthQuerySource": SKIPPED}))["profiles"][0]
    assert profile["result"] == "failure"
    assert profile["core"]["failedTests"] == ["APIKeyAuth scenario"]


def test_an_infrastructure_error_is_neither_a_failure_nor_a_pass() -> None:
    report = _report(_results({"APIKeyAuth": PASSED, "APIKeyAuthClientIDHeader": INFRASTRUCTURE}))
    extended = report["profiles"][0]["extended"]
    assert extended["result"] == "error"
    assert extended["infrastructureErrors"] == ["APIKeyAuthClientIDHeader scenario"]
    assert "failedTests" not in extended and extended["statistics"]["Failed"] == 0
    assert report["profiles"][0]["result"] == "error"
    assert report["certification"]["eligible"] is False
    # A real failure still outranks it.
    report = _report(_results({"APIKeyAuth": FAILED, "APIKeyAuthClientIDHeader": INFRASTRUCTURE}))
    assert report["profiles"][0]["result"] == "failure"


@pytest.mark.parametrize("ran_outcome", [PASSED, SKIPPED])
def test_a_subset_run_is_never_success_and_never_eligible(ran_outcome: str) -> None:
    expected = {"kgateway": [("kgateway/f.feature:1", "APIKeyAuth", "APIKeyAuth scenario"), ("x:9", "APIKeyAuth", "b")]}
    report = _report(_results({"APIKeyAuth": ran_outcome}), implementation=VENDOR, expected=expected)
    core = report["profiles"][0]["core"]
    assert core["result"] == "partial" and core["notRunTests"] == ["b"]
    assert report["profiles"][0]["result"] == "partial"
    assert report["run"]["complete"] is False and report["run"]["notRun"] == 1
    assert report["certification"]["eligible"] is False
    assert any("subset" in reason for reason in report["certification"]["reasons"])


def test_a_profile_the_target_does_not_implement_does_not_block_certification_of_the_other() -> None:
    expected = {"kgateway": [("kgateway/f.feature:1", "APIKeyAuth", "APIKeyAuth scenario")], "agentgateway": []}
    supported = {**ALL_KGATEWAY, "agentgateway": set()}
    arguments = {"implementation": VENDOR, "expected": expected, "supported": supported}
    report = _report(_results({"APIKeyAuth": PASSED}), profiles=["kgateway", "agentgateway"], **arguments)
    assert [p["result"] for p in report["profiles"]] == ["success", "not-supported"]
    assert report["certification"] == {"eligible": True}
    report = _report([], profiles=["agentgateway"], **arguments)
    assert report["certification"]["reasons"] == ["no profile was tested"]


def test_a_complete_run_with_valid_implementation_fields_is_eligible() -> None:
    expected = {"kgateway": [("kgateway/f.feature:1", "APIKeyAuth", "APIKeyAuth scenario")]}
    report = _report(_results({"APIKeyAuth": PASSED}), implementation=VENDOR, expected=expected)
    assert report["run"]["complete"] is True
    assert report["certification"] == {"eligible": True}
    assert certification_name(report) == "standard-v1.2.3-default-report.yaml"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"organization": ""}, "organization cannot be empty"),
        ({"contact": []}, "contact cannot be empty"),
        ({"url": "github.com/x"}, "is not an http(s) URL"),
        ({"version": "main"}, "is a branch name"),
        ({"contact": ["not a contact"]}, "expected @user"),
    ],
)
def test_implementation_fields_are_checked_as_gateway_api_checks_them(change: dict, problem: str) -> None:
    assert implementation_problems(VENDOR) == []
    problems = implementation_problems({**VENDOR, **change})
    assert len(problems) == 1 and problem in problems[0]


def test_the_report_carries_every_scenario_with_its_id_and_reads_back() -> None:
    results = [
        ScenarioResult("kgateway", "APIKeyAuth", "ok", PASSED, "", 0.25, "kgateway/a.feature:3"),
        ScenarioResult(
            "kgateway", "APIKeyAuthQuerySource", "broken", FAILED, "expected 200", 0.5, "kgateway/b.feature:4"
        ),
        ScenarioResult(
            "agentgateway", "APIKeyAuth", "elsewhere", NOT_SUPPORTED, "n/a", 0.0, "agentgateway/c.feature:5@9"
        ),
    ]
    supported = {"kgateway": set(PROFILES["kgateway"].features), "agentgateway": set()}
    report = _report(results, profiles=["kgateway", "agentgateway"], supported=supported)
    assert [(s["id"], s["level"], s["result"]) for s in report["scenarios"]] == [
        ("kgateway/a.feature:3", "core", PASSED),
        ("kgateway/b.feature:4", "extended", FAILED),
        ("agentgateway/c.feature:5@9", "core", NOT_SUPPORTED),
    ]
    assert scenario_results(report) == results
    assert report["profiles"][1]["result"] == "not-supported"


def test_the_schema_rejects_what_gateway_api_requires_and_what_the_report_never_writes(tmp_path: Path) -> None:
    report = _report(_results({"APIKeyAuth": PASSED}), now=dt.datetime(2026, 1, 2, tzinfo=dt.UTC))
    written = write_report(report, tmp_path / "r.yaml")
    assert yaml.safe_load(written.read_text()) == report
    for broken in (
        {k: v for k, v in report.items() if k != "gatewayAPIVersion"},
        {**report, "mode": ""},
        {**report, "gatewayAPIChannel": "beta"},
        {**report, "certification": {"eligible": False}},  # ineligible needs its reasons
        {**report, "scenarios": [{**report["scenarios"][0], "id": "no line number"}]},
        {**report, "scenarios": [{**report["scenarios"][0], "result": "success"}]},
    ):
        with pytest.raises(jsonschema.ValidationError):
            validate(broken)


def test_a_subset_report_never_takes_the_full_reports_file_name() -> None:
    assert subset_path(Path("reports/conformance-report.yaml")) == Path("reports/conformance-report.subset.yaml")
    assert subset_path(Path("out/r")) == Path("out/r.subset.yaml")
