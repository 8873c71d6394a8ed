"""The real kgateway controller (and its Envoy) as the baseline of bounded differential runs: generated kgateway
policies and requests, a fixed seed and example count, each difference shrunk to a scenario.

- the reference gateway against it: traffic and each policy's Accepted condition;
- the envoy target (this project's translation, on a real Envoy) against it: the same, and the configuration each
  Envoy holds (listener filter chain, and the api_key_auth config of every scope and route: what kgateway sends).

Any divergence not explained in conformance/differential/known.py fails; the reports stay in reports/ beside the
suite's."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from conformance import cli
from conformance.local import build
from conformance.targets.local import REQUIRED

REPORTS = Path(__file__).resolve().parents[2] / "reports"
EXAMPLES, SEED = 40, 20261


@pytest.mark.parametrize("other", ["reference", "envoy"])
def test_kgateway_agrees_with(other: str) -> None:
    problem = build.go_problem(build.go_minimum())
    if problem:
        if os.environ.get(REQUIRED):
            pytest.fail(f"{problem} ({REQUIRED} is set)", pytrace=False)
        pytest.skip(f"no local kgateway here: {problem}")
    REPORTS.mkdir(exist_ok=True)
    report = REPORTS / f"differential-report-{other}-local.yaml"
    scenarios = REPORTS / f"differential-{other}-local.feature"
    code = cli.main(
        [
            "differential",
            *("--targets", f"{other},local", "--profile", "kgateway"),
            *("--examples", str(EXAMPLES), "--seed", str(SEED)),
            *("--report", str(report), "--scenarios", str(scenarios)),
        ]
    )
    found = yaml.safe_load(report.read_text(encoding="utf-8"))
    assert found["compared"]["policies"] >= EXAMPLES and found["compared"]["requests"] > EXAMPLES
    assert (found["targets"]["a"], found["targets"]["b"]) == (other, "local")
    assert found["versions"]["local"]["kgateway"].startswith("v2.")
    unexplained = found["divergences"]
    assert not unexplained, f"{len(unexplained)} unexplained divergences; see {report} and {scenarios}"
    assert (code, found["result"]) == (0, "success")
