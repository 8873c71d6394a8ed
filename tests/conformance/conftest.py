"""Helpers for running the conformance suite itself in a subprocess, as a user would."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

# Runs from the checkout, as `tox -e conformance` does: the rootdir then holds features/.
REPO = Path(__file__).resolve().parents[2]


@dataclass
class SuiteRun:
    returncode: int
    output: str
    report_path: Path
    allure_dir: Path

    @property
    def subset_report_path(self) -> Path:
        return self.report_path.with_name(f"{self.report_path.stem}.subset.yaml")

    @property
    def report(self) -> dict:
        """The report this run wrote: the full run's file, or the subset file when the run was a subset."""
        path = self.report_path if self.report_path.is_file() else self.subset_report_path
        return yaml.safe_load(path.read_text(encoding="utf-8"))

    def failed_scenarios(self) -> set[str]:
        names: set[str] = set()
        for profile in self.report["profiles"]:
            for section in ("core", "extended"):
                names.update(profile.get(section, {}).get("failedTests", []))
        return names

    def profile(self, name: str) -> dict:
        return next(p for p in self.report["profiles"] if p["name"] == name)


@pytest.fixture
def run_suite(tmp_path: Path):
    """Run `pytest --pyargs conformance.suite` with extra arguments; return what it produced."""

    def run(*args: str, timeout: float = 600) -> SuiteRun:
        report = tmp_path / "report.yaml"
        allure_dir = tmp_path / "allure-results"
        command = [
            sys.executable,
            "-m",
            "pytest",
            "--pyargs",
            "conformance.suite",
            "-p",
            "no:cacheprovider",
            "-q",
            f"--conformance-report={report}",
            f"--alluredir={allure_dir}",
            *args,
        ]
        completed = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=REPO, check=False)
        return SuiteRun(completed.returncode, completed.stdout + completed.stderr, report, allure_dir)

    return run
