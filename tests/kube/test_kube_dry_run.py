"""`apikey-conformance --target kind --target-option dry_run=true` run as a user runs it: the suite prints the
whole install plan, runs no scenario, and says so in one skip reason; nothing needs Docker, kind or helm."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


def run_suite(tmp_path: Path, *args: str) -> tuple[int, str]:
    """`apikey-conformance ARGS`, the command the README gives."""
    report, work_dir = f"--conformance-report={tmp_path / 'report.yaml'}", f"work_dir={tmp_path}"
    command = [sys.executable, "-m", "conformance.cli", "-q", "-rs", report, "--target-option", work_dir, *args]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=REPO, check=False)
    return completed.returncode, completed.stdout + completed.stderr


@pytest.mark.parametrize(
    ("target", "options", "expected"),
    [
        ("kind", ["--target-option", "dry_run=true"], ["kind create cluster", "helm", "kgateway-crds", "httpbin.yaml"]),
        ("cluster", ["--target-option", "dry_run=true"], ["Install: nothing (install=false)"]),
    ],
)
def test_a_dry_run_prints_the_plan_and_runs_no_scenario(
    tmp_path: Path, target: str, options: list[str], expected: list[str]
) -> None:
    returncode, output = run_suite(tmp_path, "--target", target, "--profile", "kgateway", *options)
    assert returncode == 0, output[-3000:]
    plan = (tmp_path / "install-plan.txt").read_text().splitlines()
    assert all(any(text in line for line in plan) for text in expected), plan
    # The whole plan is on the terminal, line for line and in order, as the run starts.
    lines = output.splitlines()
    first = next(i for i, line in enumerate(lines) if line.endswith(plan[0]))
    assert lines[first] == f"[apikey-conformance] {plan[0]}"
    assert lines[first + 1 : first + len(plan)] == plan[1:]
    # Every scenario is skipped for that one reason; none passed, none failed.
    skips = [line for line in lines if line.startswith("SKIPPED") and "NOT_SUPPORTED" not in line]
    assert len(skips) == 1 and f"dry run of target '{target}': printed the install plan" in skips[0], skips
    report = yaml.safe_load((tmp_path / "report.yaml").read_text())
    [profile] = report["profiles"]
    for section in ("core", "extended"):
        assert profile[section]["statistics"]["Passed"] == 0 and profile[section]["statistics"]["Failed"] == 0
        assert profile[section]["result"] != "success"
