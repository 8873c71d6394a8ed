"""Each scenario's outcome, read from pytest's reports: passed, failed, skipped, not supported, or an infrastructure
error of the target (which is never counted as a failure of the feature)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from conformance import allure_results
from conformance.redact import REDACTOR
from conformance.report import FAILED, INFRASTRUCTURE, NOT_SUPPORTED, PASSED, SKIPPED, ScenarioResult
from conformance.selection import Selection
from conformance.targets import TargetError

INFRASTRUCTURE_PROPERTY = "apikey-conformance-infrastructure"


def is_infrastructure(report: pytest.TestReport, excinfo: pytest.ExceptionInfo[BaseException] | None) -> bool:
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


class Results:
    """The outcome of every scenario that ran or was skipped, by node id."""

    def __init__(self, selection: Selection, allure_dir: str | None = None) -> None:
        self.selection = selection
        self.allure_dir = allure_dir
        self.by_node: dict[str, ScenarioResult] = {}

    def record(self, report: pytest.TestReport) -> None:
        info = self.selection.meta.get(report.nodeid)
        if info is None:
            return
        result = self.by_node.get(report.nodeid)
        if result is None:
            result = ScenarioResult(info.profile, info.feature, info.name, PASSED, id=info.id, level=info.level)
            self.by_node[report.nodeid] = result
        result.duration += report.duration
        if report.skipped:
            reason = self.selection.not_supported.get(report.nodeid)
            if reason is not None:
                result.outcome, label = NOT_SUPPORTED, "not supported"
            else:
                result.outcome, label = SKIPPED, "skipped"
                reason = _skip_reason(report)
            result.message = REDACTOR.redact(reason)
            if self.allure_dir and report.when == "setup":  # skipped before the scenario started
                stop = time.time()
                allure_results.write_skipped(Path(self.allure_dir), info, f"{label}: {result.message}", stop, stop)
        elif report.failed and result.outcome != FAILED:
            infrastructure = (INFRASTRUCTURE_PROPERTY, True) in report.user_properties
            result.outcome = INFRASTRUCTURE if infrastructure else FAILED
            result.message = short_failure(report)

    @property
    def all(self) -> list[ScenarioResult]:
        return list(self.by_node.values())

    def __bool__(self) -> bool:
        return bool(self.by_node)


def _skip_reason(report: pytest.TestReport) -> str:
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    return str(reason).removeprefix("Skipped: ")


def short_failure(report: Any) -> str:
    """The failure's message, redacted before it is cut (a cut must not leave half a key)."""
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return REDACTOR.redact(str(crash.message))[:2000]
    return REDACTOR.redact(str(report.longrepr))[-2000:]
