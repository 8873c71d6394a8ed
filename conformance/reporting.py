"""The end of a run: the YAML report (and the certification report when eligible), the terminal summary and the
allure environment, from the run's facts and results."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from conformance import allure_results
from conformance.options import HarnessOptions
from conformance.redact import REDACTOR
from conformance.report import (
    FAILED,
    INFRASTRUCTURE,
    RunFacts,
    ScenarioResult,
    build_report,
    certification_name,
    format_table,
    subset_path,
    summary_table,
    write_report,
)
from conformance.scenarios import catalogue
from conformance.selection import Selection
from conformance.suite import features_dir
from conformance.targets.base import suite_version


@dataclass
class TargetFacts:
    """What the target said of itself once started (its versions, Gateway API, knowingly different behaviour)."""

    versions: dict[str, str] = field(default_factory=dict)
    gateway_api: tuple[str, str] = ("UNDEFINED", "UNDEFINED")
    divergences: list[dict[str, str]] = field(default_factory=list)


@dataclass
class Written:
    report: dict[str, Any]
    path: Path
    certification: Path | None
    environment: dict[str, Any]


def run_facts(
    config: pytest.Config, options: HarnessOptions, target: TargetFacts, selection: Selection, interrupted: bool
) -> RunFacts:
    version, channel = target.gateway_api
    chosen: dict[str, Any] = {}
    if options.run_scenarios:
        chosen["runScenarios"] = sorted(options.run_scenarios)
    if options.skip_scenarios:
        chosen["skipScenarios"] = sorted(options.skip_scenarios)
    if config.option.keyword:
        chosen["keyword"] = str(config.option.keyword)
    if config.option.markexpr:
        chosen["markers"] = str(config.option.markexpr)
    if selection.deselected:
        chosen["deselected"] = selection.deselected
    if config.option.maxfail:
        chosen["exitFirst"] = True
    if interrupted:
        chosen["interrupted"] = True
    consistency = options.consistency
    return RunFacts(
        target=options.target,
        command=REDACTOR.redact(reproduce_command(config)),
        mode=options.mode,
        gateway_api_version=version,
        gateway_api_channel=channel,
        versions=target.versions,
        suite_version=suite_version(),
        selection=chosen,
        consistency={
            "requiredConsecutiveSuccesses": consistency.required_consecutive_successes,
            "pollIntervalSeconds": consistency.poll_interval,
            "maxTimeToConsistencySeconds": consistency.max_time_to_consistency,
        },
    )


def write(
    facts: RunFacts, options: HarnessOptions, selection: Selection, results: list[ScenarioResult], target: TargetFacts
) -> Written:
    """Build and write the report (a subset run's under a `.subset` name), and the certification report if the
    run is eligible for one."""
    everything = catalogue(features_dir())
    expected = {
        name: [(i.id, i.feature, i.name) for i in everything.values() if i.profile == name] for name in options.profiles
    }
    results = sorted(results, key=lambda r: r.id)
    report = build_report(
        results,
        facts=facts,
        profiles=options.profiles,
        supported=selection.supported,
        implementation=options.implementation,
        expected=expected,
        divergences=target.divergences,
        versions_under_test={
            name: {"version": v.version, "source": v.source, "newerFeatures": selection.newer.get(name, {})}
            for name, v in selection.under_test.items()
        },
    )
    path = options.report_path if report["run"]["complete"] else subset_path(options.report_path)
    written = write_report(report, path)
    certification = None
    if report["certification"]["eligible"]:
        certification = write_report(report, path.parent / certification_name(report))
    environment = {
        "target": facts.target,
        "gatewayAPI": f"{facts.gateway_api_version} ({facts.gateway_api_channel})",
        "mode": facts.mode,
        "suite": f"apikey-conformance {facts.suite_version}",
        **{f"version.{name}": value for name, value in facts.versions.items()},
        "profiles": ", ".join(f"{p['name']}={p['result']}" for p in report["profiles"]),
        "run": "complete" if report["run"]["complete"] else f"subset ({report['run']['notRun']} not run)",
        allure_results.TOTAL_KEY: len(results),
        "reproduce": facts.command,
    }
    return Written(report, written, certification, environment)


def summary(
    write_line: Callable[[str], None], written: Written, results: list[ScenarioResult], allure_dir: Any
) -> None:
    """The terminal summary: target, the table per profile and feature, verdicts, failures, where the files are."""
    report = written.report
    versions = ", ".join(f"{k} {v}" for k, v in report["target"]["versions"].items())
    write_line(
        f"target {report['target']['name']}"
        + (f" ({versions})" if versions else "")
        + f"; Gateway API {report['gatewayAPIVersion']} {report['gatewayAPIChannel']}; mode {report['mode']}"
    )
    write_line("")
    write_line(format_table(summary_table(results)))
    write_line("")
    for profile in report["profiles"]:
        write_line(f"{profile['name']}: {profile['result'].upper()}  ({profile['summary']})")
        judged = profile.get("implementationVersion")
        if judged:
            newer = ", ".join(f"{f} ({since})" for f, since in judged["newerFeatures"].items())
            write_line(
                f"  judged as {profile['name']} {judged['version']} ({judged['source']})"
                + (f"; not supported by that release: {newer}" if newer else "")
            )
    for result in results:
        if result.outcome in (FAILED, INFRASTRUCTURE):
            label = "FAILED" if result.outcome == FAILED else "INFRASTRUCTURE ERROR"
            write_line(f"{label} [{result.profile}/{result.feature}] {result.name} ({result.id})")
    if not report["run"]["complete"]:
        write_line(
            f"SUBSET RUN: {report['run']['notRun']} scenario(s) of the chosen profiles did not run; "
            "no profile can be certified from this run"
        )
    write_line(f"report: {written.path.resolve()}")
    if written.certification is not None:
        write_line(f"certification report: {written.certification.resolve()}")
    else:
        reasons = report["certification"].get("reasons", [])
        write_line(
            f"no certification report: {reasons[0] if reasons else 'not eligible'}"
            + (f" (and {len(reasons) - 1} more, see the report)" if len(reasons) > 1 else "")
        )
    if allure_dir:
        write_line(f"allure results: {Path(allure_dir).resolve()} (HTML: tox -e report -- {allure_dir})")


def reproduce_command(config: pytest.Config) -> str:
    """This run's command line, as `apikey-conformance ...` when it ran the packaged suite."""
    args = [str(a) for a in config.invocation_params.args]
    if args[:2] == ["--pyargs", "conformance.suite"]:
        rest, skip = [], False
        for arg in args[2:]:
            if skip:
                skip = False
            elif arg in ("-p", "--rootdir"):
                skip = True  # the launcher's own "-p no:cacheprovider" and "--rootdir DIR"
            elif not arg.startswith("--rootdir="):
                rest.append(arg)
        return shlex.join(["apikey-conformance", *rest])
    return shlex.join(["pytest", *args])
