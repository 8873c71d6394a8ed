"""The pytest plugin: its options, the hooks that select scenarios, start the target, record results and write the
report, and the target fixture. The work itself is in conformance.selection, .results and .reporting.

Registered through the `pytest11` entry point, so it is loaded wherever the package is installed; it only acts on
items that are conformance scenarios (the tests conformance.scenarios.bind makes from `features/`), and only a run
that collects some changes anything process-wide (the redaction of log records).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance import allure_results
from conformance.options import HarnessOptions, add_options
from conformance.profiles import FEATURES, PROFILES
from conformance.redact import REDACTOR, redact_log_records
from conformance.releases import is_version_tag
from conformance.report import implementation_problems
from conformance.reporting import TargetFacts, Written, run_facts, summary, write
from conformance.results import INFRASTRUCTURE_PROPERTY, Results, is_infrastructure
from conformance.scenarios import ScenarioInfo
from conformance.selection import Selection, TargetSupport
from conformance.suite import features_dir
from conformance.targets import TargetError, TargetUnavailable, make_target
from conformance.targets.base import ReportsDivergences, Target

pytest_plugins = [
    "conformance.steps.context",
    "conformance.steps.resources",
    "conformance.steps.requests",
    "conformance.steps.expectations",
]

HARNESS_KEY = pytest.StashKey["Harness"]()
STEP_FAILED = pytest.StashKey[bool]()  # a step of the scenario failed: it is not status-only, it failed


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    # Tags become markers: declare every profile and feature so --strict-markers accepts them.
    for name, profile in PROFILES.items():
        config.addinivalue_line("markers", f"{name}: scenario of the {profile.description} profile")
    for feature, text in FEATURES.items():
        config.addinivalue_line("markers", f"{feature}: {text}")
    _check_allure_rootdir(config)
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


class Harness:
    """One run: its options, the scenarios it selects (conformance.selection), the target's life, the results
    (conformance.results) and, at the end, the report (conformance.reporting)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self._options: HarnessOptions | None = None
        self._selection: Selection | None = None
        self._results: Results | None = None
        self.target: Target | None = None
        self.target_problem: BaseException | None = None  # why start_target() failed, for every scenario
        self.target_facts = TargetFacts()
        self.written: Written | None = None
        self.environment: dict[str, Any] = {}
        self.interrupted = False
        self.collected = False  # collection finished (a usage error stops it: then there is nothing to report)
        self._redaction_cleanup: Callable[[], None] | None = None

    @property
    def options(self) -> HarnessOptions:
        if self._options is None:
            self._options = HarnessOptions.from_config(self.config)
        return self._options

    @property
    def selection(self) -> Selection:
        if self._selection is None:
            self._selection = Selection(self.options)
        return self._selection

    @property
    def results(self) -> Results:
        if self._results is None:
            self._results = Results(self.selection, getattr(self.config.option, "allure_report_dir", None))
        return self._results

    @property
    def meta(self) -> dict[str, ScenarioInfo]:
        return self.selection.meta if self._selection is not None else {}

    @property
    def report(self) -> dict[str, Any] | None:
        return self.written.report if self.written else None

    # -- selection ----------------------------------------------------------------------------------------
    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        """Before anything deselects: identify every scenario."""
        self.selection.identify(items)
        if not self.meta:
            return
        # Only a run of the suite redacts log records (gateway and library logs end up in terminals and allure
        # files); another pytest session where this package is installed keeps its logging as it is.
        if self._redaction_cleanup is None:
            self._redaction_cleanup = redact_log_records()
            config.add_cleanup(self._redaction_cleanup)
        problems = implementation_problems(self.options.implementation)
        # A project and version alone only say which release to judge features against; an organization, URL
        # or contact makes this a certification run, which must not start with fields Gateway API would reject.
        given = [k for k, v in self.options.implementation.items() if v and k not in ("project", "version")]
        if given and problems:
            raise pytest.UsageError("certification report: " + "; ".join(problems))

    # A second pytest_collection_modifyitems (pytest only reads hook options from "pytest_" names).
    @pytest.hookimpl(trylast=True, specname="pytest_collection_modifyitems")
    def pytest_select_scenarios(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        """Profiles, --run-scenarios, and NOT_SUPPORTED / --skip-scenarios marks."""
        if not self.meta:
            return
        deselected = self.selection.choose(items, TargetSupport.of(self.options))
        if deselected:
            config.hook.pytest_deselected(items=deselected)

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        if self._selection is not None:
            self.selection.deselected += sum(item.nodeid in self.meta for item in items)

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        # What runs after every plugin had its say (-k, -m, --deselect, ours above already applied).
        if self._selection is not None:
            self.selection.keep_only({item.nodeid: item for item in session.items})
        self.collected = True

    # -- the target ---------------------------------------------------------------------------------------
    def start_target(self) -> Target:
        if self.target_problem is not None:
            raise self.target_problem
        if self.target is None:
            options = self.options
            settings = {**options.target_options, "profiles": options.profiles, "consistency": options.consistency}
            try:
                target = make_target(options.target, settings)  # TargetUnavailable says why it cannot run here
            except ValueError as error:
                raise pytest.UsageError(f"--target {options.target}: {error}") from None
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
            self.target_facts = TargetFacts(
                versions=target.versions(),
                gateway_api=target.gateway_api(),
                divergences=list(target.known_divergences) if isinstance(target, ReportsDivergences) else [],
            )
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
        if item.nodeid in self.meta and is_infrastructure(report, call.excinfo):
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

    def pytest_bdd_step_error(self, request: pytest.FixtureRequest) -> None:
        request.node.stash[STEP_FAILED] = True

    def pytest_bdd_after_scenario(self, request: pytest.FixtureRequest) -> None:
        """A scenario whose steps all held but whose requests could not be sent (a status-only target) is
        reported skipped, saying how far it was checked: never passed."""
        if request.node.stash.get(STEP_FAILED, False) or "scenario_context" not in request.fixturenames:
            return
        partial = request.getfixturevalue("scenario_context").status_only_outcome()
        if partial is not None:
            pytest.skip(partial)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.meta:
            self.results.record(report)

    # -- the report ---------------------------------------------------------------------------------------
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if not self.meta or not self.collected:
            self.stop_target()
            return
        interrupted = self.interrupted or bool(session.shouldstop) or bool(session.shouldfail)
        facts = run_facts(self.config, self.options, self.target_facts, self.selection, interrupted)
        self.stop_target()
        self.written = write(facts, self.options, self.selection, self.results.all, self.target_facts)
        self.environment = self.written.environment

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.results or self.written is None:
            return
        terminalreporter.section("API key auth conformance")
        allure_dir = getattr(self.config.option, "allure_report_dir", None)
        summary(terminalreporter.write_line, self.written, self.results.all, allure_dir)

    @pytest.hookimpl(trylast=True)
    def pytest_unconfigure(self, config: pytest.Config) -> None:
        allure_dir = getattr(config.option, "allure_report_dir", None)
        if allure_dir and self.meta:
            allure_results.finish(Path(allure_dir), self.environment)


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
