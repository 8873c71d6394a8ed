"""The suite run as a user runs it: it passes on the reference gateway, fails exactly where a fault is injected,
reports NOT_SUPPORTED features apart, skips unavailable targets with one reason, and never publishes a key."""

from __future__ import annotations

import json
import re

import pytest

from conformance.allure_results import read_environment
from conformance.profiles import PROFILES
from conformance.report import validate

GUIDE_KEY = "N2YwMDIxZTEtNGUzNS1jNzgzLTRkYjAtYjE2YzRkZGVmNjcy"
# Short consistency settings: a failing expectation gives up after 1 s instead of 30.
FAST = ("--max-time-to-consistency", "1", "--poll-interval", "0.05")


def _scenario_keys() -> set[str]:
    """Every key value the scenarios put in Secrets or present: the strings that must never be published."""
    from pathlib import Path

    from conformance.suite import features_dir

    keys = {GUIDE_KEY}
    # Scenario keys read "<words>key<words>-<hex>"; wrong keys ("wrong-key-0000", "not-the-key-0000") are not keys.
    pattern = re.compile(r"[A-Za-z0-9-]*key[A-Za-z0-9-]*-[0-9a-f]{4,}\b")
    for path in Path(features_dir()).rglob("*.feature"):
        keys.update(k for k in pattern.findall(path.read_text()) if not k.startswith(("wrong", "not-")))
    return keys


def test_full_suite_passes_on_the_reference_gateway_and_reports_success(run_suite) -> None:
    run = run_suite()
    assert run.returncode == 0, run.output[-3000:]
    for name in PROFILES:
        profile = run.profile(name)
        assert profile["result"] == "success"
        for section in ("core", "extended"):
            stats = profile[section]["statistics"]
            assert stats["Failed"] == 0 and stats["Skipped"] == 0
            assert stats["Passed"] > 0
            assert profile[section]["unsupportedFeatures"] == []
    assert "API key auth conformance" in run.output  # the terminal summary table
    report = run.report
    validate(report)
    assert report["run"]["complete"] is True and report["run"]["notRun"] == 0
    assert report["gatewayAPIVersion"].startswith("v") and report["gatewayAPIChannel"] == "standard"
    assert report["target"]["versions"]["reference-gateway"] == report["suite"]["version"]
    ids = [s["id"] for s in report["scenarios"]]
    assert len(ids) == len(set(ids)) == report["run"]["scenarios"]
    # The terminal summary: a verdict per profile, where the files are, and no progress line cut into the dots.
    for name in PROFILES:
        assert f"{name}: SUCCESS" in run.output
    assert f"report: {run.report_path}" in run.output
    assert f"allure results: {run.allure_dir}" in run.output
    assert not [line for line in run.output.splitlines() if line.strip() == "."]

    # Allure: one test per scenario (Outline examples distinct), grouped by profile and feature, no noise.
    results = [json.loads(p.read_text()) for p in run.allure_dir.glob("*-result.json")]
    assert len(results) == len(ids) == int(read_environment(run.allure_dir)["scenarios.total"])
    assert len({r["historyId"] for r in results}) == len(results)
    for result in results:
        labels = {label["name"]: label["value"] for label in result["labels"]}
        assert labels["parentSuite"] in PROFILES and labels["suite"] == labels["feature"]
        assert labels["level"] in ("core", "extended") and labels["scenarioId"] == result["fullName"]
        assert result["titlePath"][:2] == [labels["parentSuite"], labels["suite"]]  # Allure 3's tree
        assert "host" not in labels and "thread" not in labels
        assert "scenario_context" not in json.dumps(result["steps"])

    # Keys are secrets: none in the report or in any allure result, although allure saw them.
    published = [run.report_path.read_text()]
    published += [p.read_text(errors="replace") for p in run.allure_dir.rglob("*") if p.is_file()]
    assert len(published) > 50
    keys = _scenario_keys()
    assert len(keys) > 20
    leaks = {key for key in keys for text in published if key in text}
    assert leaks == set()
    assert any("[REDACTED]" in text for text in published)


@pytest.mark.parametrize(
    ("fault", "profile", "expected_failures"),
    [
        (
            "later-source-rescues",
            "kgateway",
            {
                "A wrong key in an earlier source is not rescued by the right key in a later one",
                "A wrong key in the query is not rescued by the right key in a later cookie",
                "List order wins over the kind of source (the guide's precedence is an erratum)",
            },
        ),
        (
            "ignore-forward-credential",
            "kgateway",
            {
                "The key reaches the upstream unchanged",
                "The key stays in the query when forwarded",
                "Without a query source, or when the key is forwarded, the query arrives as sent",
                "The key stays in the cookie when forwarded, and the client is named",
                "No configured source is touched when the credential is forwarded",
                "A key in the second item's header is forwarded unchanged",
                "The client is named upstream and the forwarded credential is untouched",
                "The named rule reads its own header and forwards the key",
                "A route policy restating the Gateway's keys with forwardCredential keeps the key on that route",
                "Keys of every selected Secret are accepted and forwarded",
                "An empty Authorization line is left out of the value the upstream receives",
            },
        ),
        (
            "optional-as-permissive",
            "agentgateway",
            # The route override scenario sends a wrong key to a route-level Optional policy.
            {"An invalid key is still rejected", "The Gateway's key is not valid on the route"},
        ),
    ],
)
def test_an_injected_fault_fails_exactly_the_scenarios_that_cover_it(
    run_suite, fault: str, profile: str, expected_failures: set[str]
) -> None:
    run = run_suite("--target-option", f"fault={fault}", *FAST)
    assert run.returncode == 1, run.output[-3000:]
    assert run.failed_scenarios() == expected_failures
    assert run.profile(profile)["result"] == "failure"
    other = next(name for name in PROFILES if name != profile)
    assert run.profile(other)["result"] == "success"
    assert GUIDE_KEY not in run.report_path.read_text()


def test_unsupported_features_are_not_supported_and_left_out_of_the_statistics(run_suite) -> None:
    run = run_suite("--profile", "kgateway", "--exempt-features", "APIKeyAuthCookieSource,APIKeyAuthQuerySource")
    assert run.returncode == 0, run.output[-3000:]
    report = run.report
    assert [p["name"] for p in report["profiles"]] == ["kgateway"]
    extended = run.profile("kgateway")["extended"]
    assert extended["unsupportedFeatures"] == ["APIKeyAuthQuerySource", "APIKeyAuthCookieSource"]
    assert extended["result"] == "success"  # NOT_SUPPORTED is neither a skip nor a failure
    assert extended["statistics"]["Skipped"] == 0
    assert "NOT_SUPPORTED" in run.output
    # Scenarios skipped before they start are in the allure results too: one test per scenario the run recorded.
    results = [json.loads(p.read_text()) for p in run.allure_dir.glob("*-result.json")]
    assert len(results) == len(report["scenarios"])
    skipped = [r for r in results if r["status"] == "skipped"]
    assert len(skipped) == sum(s["result"] == "not-supported" for s in report["scenarios"]) > 0
    assert all("not supported" in r["statusDetails"]["message"] for r in skipped)


def test_skipped_scenarios_make_the_result_partial(run_suite) -> None:
    run = run_suite("--profile", "agentgateway", "--skip-scenarios", "No key is let through")
    assert run.returncode == 0, run.output[-3000:]
    core = run.profile("agentgateway")["core"]
    assert core["result"] == "partial"
    assert core["skippedTests"] == ["No key is let through"]


VENDOR = (
    "--implementation-organization=example-org",
    "--implementation-project=example-gateway",
    "--implementation-url=https://github.com/example-org/example-gateway",
    "--implementation-version=v9.9.9",
    "--implementation-contact=@example-org/maintainers",
)


@pytest.mark.parametrize(
    "selection",
    [("--run-scenarios", "A request without a key is rejected with 401"), ("-k", "guide")],
    ids=["run-scenarios", "keyword"],
)
def test_a_subset_run_cannot_produce_a_success_certification_report(run_suite, selection: tuple[str, str]) -> None:
    run = run_suite("--profile", "kgateway", *selection, *VENDOR)
    assert run.returncode == 0, run.output[-3000:]
    assert not run.report_path.exists()  # the full run's file is never written by a subset
    assert run.subset_report_path.is_file()
    report = run.report
    validate(report)
    profile = run.profile("kgateway")
    assert profile["result"] == "partial"
    assert profile["core"]["result"] == "partial" and profile["extended"]["result"] == "partial"
    assert profile["core"]["statistics"]["Passed"] >= 1 and profile["core"]["statistics"]["NotRun"] > 0
    assert report["run"]["complete"] is False
    assert report["run"]["selection"]
    assert report["certification"]["eligible"] is False
    assert not list(run.report_path.parent.glob("*-report.yaml"))  # no certification-named report
    assert "SUBSET RUN" in run.output


def test_a_complete_run_with_implementation_fields_writes_the_certification_report(run_suite) -> None:
    run = run_suite("--profile", "kgateway", "--mode", "default", *VENDOR)
    assert run.returncode == 0, run.output[-3000:]
    certification = run.report_path.parent / "standard-v9.9.9-default-report.yaml"
    assert certification.is_file()
    assert certification.read_text() == run.report_path.read_text()
    report = run.report
    validate(report)
    assert report["certification"] == {"eligible": True}
    assert report["implementation"]["contact"] == ["@example-org/maintainers"]
    # `pytest --pyargs conformance.suite -p no:cacheprovider ...` is what `apikey-conformance ...` runs.
    assert report["run"]["reproduce"].startswith("apikey-conformance -q ")
    assert "--implementation-version=v9.9.9" in report["run"]["reproduce"]
    assert f"certification report: {certification}" in run.output


def test_incomplete_implementation_fields_are_refused_before_anything_runs(run_suite) -> None:
    run = run_suite("--profile", "kgateway", *VENDOR[:3])
    assert run.returncode == 4
    assert "implementation's version cannot be empty" in run.output
    assert "implementation's contact cannot be empty" in run.output


def test_a_target_that_cannot_apply_configuration_is_an_infrastructure_error(run_suite, tmp_path) -> None:
    # An "Envoy" that exits at once: every scenario is an error of the target, none a failure of its feature.
    broken = tmp_path / "broken-envoy"
    broken.write_text("#!/bin/sh\nexit 1\n")
    broken.chmod(0o755)
    run = run_suite("--target", "envoy", "--profile", "kgateway", "--target-option", f"envoy_path={broken}")
    assert run.returncode == 1, run.output[-3000:]
    report = run.report
    validate(report)
    profile = run.profile("kgateway")
    assert profile["result"] == "error"
    for section in ("core", "extended"):
        assert profile[section]["statistics"]["Failed"] == 0
        assert profile[section]["statistics"]["InfrastructureErrors"] > 0
        assert "failedTests" not in profile[section]
    assert {s["result"] for s in report["scenarios"]} == {"infrastructure"}
    assert "could not start" in report["scenarios"][0]["message"]
    assert re.search(r"\d+ errors? in", run.output) and " failed" not in run.output.splitlines()[-1]


@pytest.mark.parametrize("target", ["kind", "cluster"])
def test_targets_that_cannot_run_here_skip_with_one_clear_reason(run_suite, target: str) -> None:
    from conformance.targets import load_target

    reason = load_target(target).unavailable_reason({"profiles": "kgateway"})
    if reason is None:
        pytest.skip(f"this machine can run the {target} target")
    run = run_suite("--target", target, "--profile", "kgateway", "-rs")
    assert run.returncode == 0, run.output[-3000:]
    # Scenarios the pinned release predates are NOT_SUPPORTED for that reason; every other one skips for this one.
    skip_lines = [
        line for line in run.output.splitlines() if line.startswith("SKIPPED") and "NOT_SUPPORTED" not in line
    ]
    assert len(skip_lines) == 1 and reason in skip_lines[0]
    assert run.profile("kgateway")["core"]["result"] == "partial"


def test_bad_options_are_usage_errors_naming_the_option(run_suite) -> None:
    run = run_suite("--target", "nonsense")
    assert run.returncode == 4
    assert "--target" in run.output and "reference" in run.output
    run = run_suite("--supported-features", "APIKeyAuthTeleport")
    assert run.returncode == 4
    assert "APIKeyAuthTeleport" in run.output


def test_a_status_only_run_checks_status_and_passes_no_scenario_whose_requests_were_not_sent(run_suite) -> None:
    """Against a control plane without its data plane, status expectations run and request steps are passed over:
    a scenario with requests is skipped saying how far it was checked, never passed."""
    run = run_suite("--profile", "agentgateway", "--target-option", "status_only=true")
    assert run.returncode == 0, run.output[-3000:]
    scenarios = run.report["scenarios"]
    skipped = [s for s in scenarios if s["result"] == "skipped"]
    passed = [s for s in scenarios if s["result"] == "passed"]
    assert skipped and all("request step(s) not sent" in s["message"] for s in skipped)
    assert any(" status expectation(s) held" in s["message"] for s in skipped)
    assert not any(s["result"] == "failed" for s in scenarios)
    # What passed has no request at all (e.g. a rejected manifest); everything else was only partly checked.
    assert len(passed) < len(skipped)
    assert run.profile("agentgateway")["core"]["result"] == "partial"
