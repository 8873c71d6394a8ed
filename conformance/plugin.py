"""The pytest plugin: options, scenario selection by profile and feature, the target fixture, the report.

Registered through the `pytest11` entry point, so it is active wherever the package is installed; it only acts
on items that are conformance scenarios (the tests pytest-bdd generates from `features/`).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_bdd.scenario import scenario_wrapper_template_registry  # how pytest-bdd itself maps items to scenarios

from conformance.options import HarnessOptions, add_options
from conformance.profiles import FEATURES, PROFILES, feature_selected
from conformance.redact import REDACTOR
from conformance.report import (
    FAILED,
    NOT_SUPPORTED,
    PASSED,
    SKIPPED,
    ScenarioResult,
    build_report,
    format_table,
    summary_table,
    write_report,
)
from conformance.targets import TargetUnavailable, load_target, make_target
from conformance.targets.base import Target

pytest_plugins = [
    "conformance.steps.context",
    "conformance.steps.resources",
    "conformance.steps.requests",
    "conformance.steps.expectations",
]

NOT_SUPPORTED_PREFIX = "NOT_SUPPORTED: "
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
    config.stash[HARNESS_KEY] = Harness(config)
    config.pluginmanager.register(config.stash[HARNESS_KEY], "apikey-conformance-harness")


def _check_allure_rootdir(config: pytest.Config) -> None:
    """allure-pytest-bdd names results by the feature file's path under the rootdir: fail early and clearly."""
    if not getattr(config.option, "allure_report_dir", None):
        return
    from conformance.suite import features_dir

    features = features_dir().resolve()
    if not features.is_relative_to(Path(config.rootpath).resolve()):
        raise pytest.UsageError(
            f"--alluredir needs the scenarios ({features}) under pytest's rootdir ({config.rootpath}): "
            f"run `apikey-conformance`, or add --rootdir {features.parent}"
        )


def scenario_meta(item: pytest.Item) -> tuple[str, str, str] | None:
    """(profile, feature, scenario name) for a conformance scenario item, else None."""
    obj = getattr(item, "obj", None)
    scenario = scenario_wrapper_template_registry.get(obj) if obj is not None else None
    if scenario is None:
        return None
    profiles = [m.name for m in item.iter_markers() if m.name in PROFILES]
    features = [m.name for m in item.iter_markers() if m.name in FEATURES]
    if len(profiles) != 1 or len(features) != 1:
        raise pytest.UsageError(
            f"scenario {scenario.name!r} ({item.nodeid}) must carry exactly one profile tag "
            f"({', '.join('@' + p for p in PROFILES)}) and one feature tag; found {profiles + features}"
        )
    return profiles[0], features[0], scenario.name


class Harness:
    """Per-run state: options, which scenarios run, their results, and the report at the end."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self._options: HarnessOptions | None = None
        self.meta: dict[str, tuple[str, str, str]] = {}
        self.results: dict[str, ScenarioResult] = {}
        self.supported: dict[str, set[str]] = {}
        self.target: Target | None = None
        self.report_path: Path | None = None
        self._started: dict[str, float] = {}

    @property
    def options(self) -> HarnessOptions:
        if self._options is None:
            self._options = HarnessOptions.from_config(self.config)
        return self._options

    # -- selection ----------------------------------------------------------------------------------------
    def _target_support(self) -> tuple[frozenset[str], set[str] | None, str | None]:
        """(profiles, declared features or None for all, reason the target cannot load or None)."""
        try:
            target_class = load_target(self.options.target)
        except TargetUnavailable as error:
            return frozenset(PROFILES), None, str(error)
        except ValueError as error:
            raise pytest.UsageError(f"--target: {error}") from None
        declared = getattr(target_class, "supported_features", None)
        return target_class.profiles, (set(declared) if declared is not None else None), None

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        scenario_items = [(item, scenario_meta(item)) for item in items]
        if not any(meta for _, meta in scenario_items):
            return
        options = self.options
        target_profiles, declared, _ = self._target_support()
        chosen = options.supported_features if options.supported_features is not None else declared
        for name in options.profiles:
            self.supported[name] = {
                f
                for f in PROFILES[name].features
                if name in target_profiles
                and feature_selected(chosen, name, f)
                and not feature_selected(options.exempt_features, name, f)
            }
        kept, deselected = [], []
        for item, meta in scenario_items:
            if meta is None:
                kept.append(item)
                continue
            profile, feature, name = meta
            if profile not in options.profiles or (options.run_scenarios and name not in options.run_scenarios):
                deselected.append(item)
                continue
            self.meta[item.nodeid] = meta
            kept.append(item)
            if profile not in target_profiles:
                reason = f"target {options.target!r} does not implement the {profile} profile"
                item.add_marker(pytest.mark.skip(reason=NOT_SUPPORTED_PREFIX + reason))
            elif feature not in self.supported[profile]:
                reason = f"feature {feature} is not supported by the implementation ({profile} profile)"
                item.add_marker(pytest.mark.skip(reason=NOT_SUPPORTED_PREFIX + reason))
            elif name in options.skip_scenarios:
                item.add_marker(pytest.mark.skip(reason="skipped by --skip-scenarios"))
        if deselected:
            config.hook.pytest_deselected(items=deselected)
            items[:] = kept

    # -- the target ---------------------------------------------------------------------------------------
    def start_target(self) -> Target:
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
                target.start()
                say(f"target {options.target!r} ready in {time.monotonic() - started:.1f}s")
            self.target = target
        return self.target

    def stop_target(self) -> None:
        if self.target is not None:
            self.target.close()
            self.target = None

    # -- results ------------------------------------------------------------------------------------------
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        meta = self.meta.get(report.nodeid)
        if meta is None:
            return
        profile, feature, name = meta
        result = self.results.get(report.nodeid) or ScenarioResult(profile, feature, name, PASSED)
        self.results[report.nodeid] = result
        result.duration += report.duration
        if report.skipped:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            reason = reason.removeprefix("Skipped: ")
            result.outcome = NOT_SUPPORTED if reason.startswith(NOT_SUPPORTED_PREFIX) else SKIPPED
            result.message = REDACTOR.redact(reason.removeprefix(NOT_SUPPORTED_PREFIX))
        elif report.failed:
            result.outcome = FAILED
            result.message = REDACTOR.redact(_short_failure(report))

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        divergences = getattr(self.target, "known_divergences", None) if self.target else None
        self.stop_target()
        if not self.meta:
            return
        options = self.options
        report = build_report(
            list(self.results.values()),
            target=options.target,
            profiles=options.profiles,
            supported=self.supported,
            implementation=options.implementation,
            divergences=divergences,
        )
        self.report_path = write_report(report, options.report_path)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.results:
            return
        terminalreporter.section("API key auth conformance")
        terminalreporter.write_line(format_table(summary_table(list(self.results.values()))))
        for result in self.results.values():
            if result.outcome == FAILED:
                terminalreporter.write_line(f"FAILED [{result.profile}/{result.feature}] {result.name}")
        if self.report_path is not None:
            terminalreporter.write_line(f"report: {self.report_path}")

    @pytest.hookimpl(trylast=True)
    def pytest_unconfigure(self, config: pytest.Config) -> None:
        # allure-pytest-bdd records step titles and doc strings verbatim; keys are removed before anyone sees them.
        allure_dir = getattr(config.option, "allure_report_dir", None)
        if allure_dir and self.meta:
            REDACTOR.redact_tree(Path(allure_dir))


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
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return str(crash.message)[:2000]
    return str(report.longrepr)[-2000:]


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
