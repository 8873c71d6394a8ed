"""The pytest plugin: options, scenario selection by profile and feature, the target fixture, the report.

Registered through the `pytest11` entry point, so it is active wherever the package is installed; it only acts
on items that are conformance scenarios (the tests pytest-bdd generates from `features/`).
"""

from __future__ import annotations

import contextlib
import logging
import shlex
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance import allure_results
from conformance.options import HarnessOptions, add_options
from conformance.profiles import FEATURES, PROFILES, feature_selected
from conformance.redact import REDACTOR, redact_log_records
from conformance.releases import VersionUnderTest, is_version_tag, newer_features, version_gap
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
    format_table,
    implementation_problems,
    subset_path,
    summary_table,
    write_report,
)
from conformance.scenarios import ScenarioInfo, catalogue, item_info, rename_example
from conformance.suite import features_dir
from conformance.targets import TargetError, TargetUnavailable, load_target, make_target
from conformance.targets.base import Target, suite_version

pytest_plugins = [
    "conformance.steps.context",
    "conformance.steps.resources",
    "conformance.steps.requests",
    "conformance.steps.expectations",
]

NOT_SUPPORTED_PREFIX = "NOT_SUPPORTED: "
INFRASTRUCTURE_PROPERTY = "apikey-conformance-infrastructure"
HARNESS_KEY = pytest.StashKey["Harness"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    # Tags become markers: declare every profile and feature so --strict-markers accepts them.
    for name, profile in PROFILES.items():
        config.addinivalue_line("markers", f"{name}: scenario of the {profile.description} profile")
    for feature, text in FEATURES.items():
        config.addinivalue_line("markers", f"{feature}: {text}")
    _check_allure_rootdir(config)
    config.add_cleanup(redact_log_records())  # gateway and library logs end up in terminals and allure files
    config.stash[HARNESS_KEY] = Harness(config)
    config.pluginmanager.register(config.stash[HARNESS_KEY], "apikey-conformance-harness")


@pytest.hookimpl(tryfirst=True)
def pytest_bdd_apply_tag(tag: str, function: Any) -> Any:
    """`@requires:` / `@since:` tags are read from the scenario (conformance.scenarios), not made pytest markers."""
    return True if is_version_tag(tag) else None


def _check_allure_rootdir(config: pytest.Config) -> None:
    """allure-pytest-bdd names results by the feature file's path under the rootdir: fail early and clearly."""
    if not getattr(config.option, "allure_report_dir", None):
        return
    features = features_dir().resolve()
    if not features.is_relative_to(Path(config.rootpath).resolve()):
        raise pytest.UsageError(
            f"--alluredir needs the scenarios ({features}) under pytest's rootdir ({config.rootpath}): "
            f"run `apikey-conformance`, or add --rootdir {features.parent}"
        )


def _is_infrastructure(report: pytest.TestReport, excinfo: pytest.ExceptionInfo[BaseException] | None) -> bool:
    """A setup or teardown error (the target or a fixture), or a TargetError anywhere in the exception chain."""
    if not report.failed:
        return False
    if report.when != "call":
        return True
    error: BaseException | None = excinfo.value if excinfo is not None else None
    while error is not None:
        if isinstance(error, TargetError):
            return True
        error = error.__cause__ or error.__context__
    return False


class Harness:
    """Per-run state: options, which scenarios run, their results, and the report at the end."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self._options: HarnessOptions | None = None
        self.meta: dict[str, ScenarioInfo] = {}
        self.results: dict[str, ScenarioResult] = {}
        self.supported: dict[str, set[str]] = {}
        self.under_test: dict[str, VersionUnderTest] = {}  # profile -> the release its scenarios are judged against
        self.newer: dict[str, dict[str, str]] = {}  # profile -> features newer than that release -> first release
        self.target: Target | None = None
        self.target_problem: BaseException | None = None  # why start_target() failed, for every scenario
        self.deselected = 0
        self.report: dict[str, Any] | None = None
        self.report_path: Path | None = None
        self.certification_path: Path | None = None
        self.environment: dict[str, Any] = {}
        self.interrupted = False
        self.collected = False  # collection finished (a usage error stops it: then there is nothing to report)
        self.target_versions: dict[str, str] = {}
        self.target_divergences: list[dict[str, str]] = []
        self.target_gateway_api = ("UNDEFINED", "UNDEFINED")

    @property
    def options(self) -> HarnessOptions:
        if self._options is None:
            self._options = HarnessOptions.from_config(self.config)
        return self._options

    # -- selection ----------------------------------------------------------------------------------------
    def _target_support(self) -> tuple[frozenset[str], set[str] | None, type[Target] | None]:
        """(profiles, declared features or None for all, the target class or None if it cannot load)."""
        try:
            target_class = load_target(self.options.target)
        except TargetUnavailable:
            return frozenset(PROFILES), None, None
        except ValueError as error:
            raise pytest.UsageError(f"--target: {error}") from None
        declared = getattr(target_class, "supported_features", None)
        return target_class.profiles, (set(declared) if declared is not None else None), target_class

    def _versions_under_test(self, target_class: type[Target] | None) -> dict[str, VersionUnderTest]:
        """The release each chosen profile is judged against: the one the target installs (the kind and cluster
        targets' pins), replaced by --implementation-version for the upstream project it names. A profile with
        neither is judged against the newest API (nothing gated)."""
        options = self.options
        try:
            known = target_class.implementation_versions(options.target_options) if target_class else {}
        except ValueError as error:
            raise pytest.UsageError(f"--target {options.target}: {error}") from None
        found = {p: v for p, v in known.items() if p in options.profiles}
        given = str(options.implementation.get("version") or "").strip()
        if given:
            # Only an upstream project's own version is one of its releases; another gateway's version is not.
            project = str(options.implementation.get("project") or "").strip().lower().rsplit("/", 1)[-1]
            profiles = [p for p in options.profiles if project in ("", p)]
            if not project and len(profiles) > 1:
                raise pytest.UsageError(
                    "--implementation-version is one project's release: choose one --profile, or name the project "
                    "with --implementation-project (kgateway or agentgateway)"
                )
            found.update({p: VersionUnderTest(p, given, "--implementation-version") for p in profiles})
        return found

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        """Before anything deselects: identify every scenario, and name Outline examples by row, not by value."""
        root = features_dir()
        for item in items:
            info = item_info(item, root)
            if info is not None:
                rename_example(item, info)
                self.meta[item.nodeid] = info
        if self.meta:
            problems = implementation_problems(self.options.implementation)
            # A project and version alone only say which release to judge features against; an organization, URL
            # or contact makes this a certification run, which must not start with fields Gateway API would reject.
            given = [k for k, v in self.options.implementation.items() if v and k not in ("project", "version")]
            if given and problems:
                raise pytest.UsageError("certification report: " + "; ".join(problems))

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        self.deselected += sum(item.nodeid in self.meta for item in items)

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        # What runs after every plugin had its say (-k, -m, --deselect, ours below already applied).
        kept = {item.nodeid for item in session.items}
        self.meta = {nodeid: info for nodeid, info in self.meta.items() if nodeid in kept}
        self.collected = True

    # A second pytest_collection_modifyitems (pytest only reads hook options from "pytest_" names).
    @pytest.hookimpl(trylast=True, specname="pytest_collection_modifyitems")
    def pytest_select_scenarios(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        """Profiles, --run-scenarios, and NOT_SUPPORTED / --skip-scenarios marks."""
        scenario_items = [(item, self.meta.get(item.nodeid)) for item in items]
        if not any(info for _, info in scenario_items):
            return
        options = self.options
        target_profiles, declared, target_class = self._target_support()
        chosen = options.supported_features if options.supported_features is not None else declared
        self.under_test = self._versions_under_test(target_class)
        for name in options.profiles:
            self.newer[name] = newer_features(name, self.under_test.get(name))
            self.supported[name] = {
                f
                for f in PROFILES[name].features
                if name in target_profiles
                and feature_selected(chosen, name, f)
                and not feature_selected(options.exempt_features, name, f)
                and f not in self.newer[name]
            }
        kept, deselected = [], []
        for item, info in scenario_items:
            if info is None:
                kept.append(item)
                continue
            if info.profile not in options.profiles or (
                options.run_scenarios and info.name not in options.run_scenarios
            ):
                deselected.append(item)
                continue
            kept.append(item)
            gap = version_gap(info.profile, info.feature, info.requirements, self.under_test.get(info.profile))
            if info.profile not in target_profiles:
                reason = f"target {options.target!r} does not implement the {info.profile} profile"
                item.add_marker(pytest.mark.skip(reason=NOT_SUPPORTED_PREFIX + reason))
            elif gap and (info.feature in self.newer[info.profile] or info.feature in self.supported[info.profile]):
                item.add_marker(pytest.mark.skip(reason=NOT_SUPPORTED_PREFIX + gap))
            elif info.feature not in self.supported[info.profile]:
                reason = f"feature {info.feature} is not supported by the implementation ({info.profile} profile)"
                item.add_marker(pytest.mark.skip(reason=NOT_SUPPORTED_PREFIX + reason))
            elif info.name in options.skip_scenarios:
                item.add_marker(pytest.mark.skip(reason="skipped by --skip-scenarios"))
        if deselected:
            config.hook.pytest_deselected(items=deselected)
            items[:] = kept

    # -- the target ---------------------------------------------------------------------------------------
    def start_target(self) -> Target:
        if self.target_problem is not None:
            raise self.target_problem
        if self.target is None:
            options = self.options
            settings = {
                **options.target_options,
                "profiles": ",".join(options.profiles),
                "consistency": options.consistency,
            }
            target = make_target(options.target, settings)  # raises TargetUnavailable with the skip reason
            started = time.monotonic()
            with _progress_to_terminal(self.config) as say:
                say(f"starting target {options.target!r} for profile(s) {', '.join(options.profiles)}")
                try:
                    target.start()
                except TargetUnavailable:
                    raise  # not a failure: the target cannot run here (or a dry run printed its plan)
                except Exception as error:
                    raise TargetError(f"target {options.target!r} could not start: {error}") from error
                say(f"target {options.target!r} ready in {time.monotonic() - started:.1f}s")
            self.target = target
            self.target_versions = target.versions()
            self.target_divergences = list(getattr(target, "known_divergences", None) or [])
            self.target_gateway_api = target.gateway_api()
        return self.target

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Iterator[None]:
        # Start the target before the first test prints anything, so its progress lines stand on their own.
        runnable = [item for item in session.items if item.nodeid in self.meta and not item.get_closest_marker("skip")]
        if runnable and not session.config.option.collectonly:
            try:
                self.start_target()
            except (TargetUnavailable, TargetError) as error:
                self.target_problem = error  # every scenario reports it: skipped, or an infrastructure error
        try:
            return (yield)
        except KeyboardInterrupt:
            self.interrupted = True
            raise

    def stop_target(self) -> None:
        if self.target is not None:
            self.target.close()
            self.target = None

    # -- results ------------------------------------------------------------------------------------------
    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
        report = yield
        if item.nodeid in self.meta and _is_infrastructure(report, call.excinfo):
            report.user_properties.append((INFRASTRUCTURE_PROPERTY, True))
        return report

    def pytest_report_teststatus(self, report: pytest.TestReport) -> tuple[str, str, Any] | None:
        if report.when == "call" and (INFRASTRUCTURE_PROPERTY, True) in report.user_properties:
            return "error", "E", ("ERROR (target)", {"red": True})
        return None

    def pytest_bdd_before_scenario(self, request: pytest.FixtureRequest) -> None:
        info = self.meta.get(request.node.nodeid)
        if info is not None and getattr(self.config.option, "allure_report_dir", None):
            allure_results.label_scenario(info)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        info = self.meta.get(report.nodeid)
        if info is None:
            return
        result = self.results.get(report.nodeid)
        if result is None:
            result = ScenarioResult(info.profile, info.feature, info.name, PASSED, id=info.id, level=info.level)
            self.results[report.nodeid] = result
        result.duration += report.duration
        if report.skipped:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            reason = reason.removeprefix("Skipped: ")
            result.outcome = NOT_SUPPORTED if reason.startswith(NOT_SUPPORTED_PREFIX) else SKIPPED
            result.message = REDACTOR.redact(reason.removeprefix(NOT_SUPPORTED_PREFIX))
            allure_dir = getattr(self.config.option, "allure_report_dir", None)
            if allure_dir and report.when == "setup":  # skipped before the scenario started
                label = "not supported" if result.outcome == NOT_SUPPORTED else "skipped"
                stop = time.time()
                allure_results.write_skipped(Path(allure_dir), info, f"{label}: {result.message}", stop, stop)
        elif report.failed and result.outcome != FAILED:
            infrastructure = (INFRASTRUCTURE_PROPERTY, True) in report.user_properties
            result.outcome = INFRASTRUCTURE if infrastructure else FAILED
            result.message = _short_failure(report)

    def _facts(self, session: pytest.Session) -> RunFacts:
        options = self.options
        version, channel = self.target_gateway_api
        selection: dict[str, Any] = {}
        if options.run_scenarios:
            selection["runScenarios"] = sorted(options.run_scenarios)
        if options.skip_scenarios:
            selection["skipScenarios"] = sorted(options.skip_scenarios)
        if self.config.option.keyword:
            selection["keyword"] = str(self.config.option.keyword)
        if self.config.option.markexpr:
            selection["markers"] = str(self.config.option.markexpr)
        if self.deselected:
            selection["deselected"] = self.deselected
        if self.config.option.maxfail:
            selection["exitFirst"] = True
        if self.interrupted or session.shouldstop or session.shouldfail:
            selection["interrupted"] = True
        consistency = options.consistency
        return RunFacts(
            target=options.target,
            command=REDACTOR.redact(reproduce_command(self.config)),
            mode=options.mode,
            gateway_api_version=version,
            gateway_api_channel=channel,
            versions=self.target_versions,
            suite_version=suite_version(),
            selection=selection,
            consistency={
                "requiredConsecutiveSuccesses": consistency.required_consecutive_successes,
                "pollIntervalSeconds": consistency.poll_interval,
                "maxTimeToConsistencySeconds": consistency.max_time_to_consistency,
            },
        )

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if not self.meta or not self.collected:
            self.stop_target()
            return
        options = self.options
        facts = self._facts(session)
        divergences = getattr(self.target, "known_divergences", None) or self.target_divergences
        self.stop_target()
        everything = catalogue(features_dir())
        expected = {
            name: [(i.id, i.feature, i.name) for i in everything.values() if i.profile == name]
            for name in options.profiles
        }
        results = sorted(self.results.values(), key=lambda r: r.id)
        report = build_report(
            results,
            facts=facts,
            profiles=options.profiles,
            supported=self.supported,
            implementation=options.implementation,
            expected=expected,
            divergences=divergences,
            versions_under_test={
                name: {"version": v.version, "source": v.source, "newerFeatures": self.newer.get(name, {})}
                for name, v in self.under_test.items()
            },
        )
        self.report = report
        path = options.report_path if report["run"]["complete"] else subset_path(options.report_path)
        self.report_path = write_report(report, path)
        if report["certification"]["eligible"]:
            self.certification_path = write_report(report, path.parent / certification_name(report))
        self.environment = {
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

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.results or self.report is None:
            return
        write = terminalreporter.write_line
        terminalreporter.section("API key auth conformance")
        report = self.report
        versions = ", ".join(f"{k} {v}" for k, v in report["target"]["versions"].items())
        write(
            f"target {report['target']['name']}"
            + (f" ({versions})" if versions else "")
            + f"; Gateway API {report['gatewayAPIVersion']} {report['gatewayAPIChannel']}; mode {report['mode']}"
        )
        write("")
        write(format_table(summary_table(list(self.results.values()))))
        write("")
        for profile in report["profiles"]:
            write(f"{profile['name']}: {profile['result'].upper()}  ({profile['summary']})")
            judged = profile.get("implementationVersion")
            if judged:
                newer = ", ".join(f"{f} ({since})" for f, since in judged["newerFeatures"].items())
                write(
                    f"  judged as {profile['name']} {judged['version']} ({judged['source']})"
                    + (f"; not supported by that release: {newer}" if newer else "")
                )
        for result in self.results.values():
            if result.outcome in (FAILED, INFRASTRUCTURE):
                label = "FAILED" if result.outcome == FAILED else "INFRASTRUCTURE ERROR"
                write(f"{label} [{result.profile}/{result.feature}] {result.name} ({result.id})")
        if not report["run"]["complete"]:
            write(
                f"SUBSET RUN: {report['run']['notRun']} scenario(s) of the chosen profiles did not run; "
                "no profile can be certified from this run"
            )
        write(f"report: {self.report_path.resolve() if self.report_path else '(not written)'}")
        if self.certification_path is not None:
            write(f"certification report: {self.certification_path.resolve()}")
        else:
            reasons = report["certification"].get("reasons", [])
            write(
                f"no certification report: {reasons[0] if reasons else 'not eligible'}"
                + (f" (and {len(reasons) - 1} more, see the report)" if len(reasons) > 1 else "")
            )
        allure_dir = getattr(self.config.option, "allure_report_dir", None)
        if allure_dir:
            write(f"allure results: {Path(allure_dir).resolve()} (HTML: tox -e report -- {allure_dir})")

    @pytest.hookimpl(trylast=True)
    def pytest_unconfigure(self, config: pytest.Config) -> None:
        allure_dir = getattr(config.option, "allure_report_dir", None)
        if allure_dir and self.meta:
            allure_results.finish(Path(allure_dir), self.environment)


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


class _TerminalHandler(logging.Handler):
    def __init__(self, write: Callable[[str], None]) -> None:
        super().__init__(logging.INFO)
        self.write = write

    def emit(self, record: logging.LogRecord) -> None:
        self.write(REDACTOR.redact(record.getMessage()))


@contextlib.contextmanager
def _progress_to_terminal(config: pytest.Config) -> Iterator[Callable[[str], None]]:
    """Show a target's start-up (a cluster install takes minutes) live, past pytest's output capture."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")

    def say(message: str) -> None:
        if reporter is None:
            return
        if capture is not None:
            with capture.global_and_fixture_disabled():
                reporter.write_line(f"[apikey-conformance] {message}")
        else:
            reporter.write_line(f"[apikey-conformance] {message}")

    handler = _TerminalHandler(say)
    logger = logging.getLogger("conformance")
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield say
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


def _short_failure(report: pytest.TestReport) -> str:
    """The failure's message, redacted before it is cut (a cut must not leave half a key)."""
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return REDACTOR.redact(str(crash.message))[:2000]
    return REDACTOR.redact(str(report.longrepr))[-2000:]


@pytest.fixture(scope="session")
def conformance_target(request: pytest.FixtureRequest) -> Iterator[Target]:
    harness: Harness = request.config.stash[HARNESS_KEY]
    try:
        target = harness.start_target()
    except TargetUnavailable as error:
        pytest.skip(str(error))
    yield target
    harness.stop_target()


@pytest.fixture
def conformance_harness(request: pytest.FixtureRequest) -> Harness:
    return request.config.stash[HARNESS_KEY]
