"""The real controllers as the baseline of bounded differential runs: generated policies and requests, a fixed
seed and example count, each difference shrunk to a scenario.

- kgateway (and its Envoy) against the reference gateway: traffic and each policy's Accepted condition;
- kgateway against the envoy target (this project's translation, on a real Envoy): the same, and the configuration
  each Envoy holds (listener filter chain, and the api_key_auth config of every scope and route: what kgateway sends);
- agentgateway's controller against the reference gateway: each policy's Accepted condition and its translation
  (per target: mode, key location, every key kept with its metadata, as the controller's xDS carries them). Its
  data plane cannot run here, so the generated requests are not sent, and the report says so.

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


@pytest.mark.parametrize(
    ("profile", "other"), [("kgateway", "reference"), ("kgateway", "envoy"), ("agentgateway", "reference")]
)
def test_the_controller_agrees_with(profile: str, other: str) -> None:
    problem = build.go_problem(build.go_minimum())
    if problem:
        if os.environ.get(REQUIRED):
            pytest.fail(f"{problem} ({REQUIRED} is set)", pytrace=False)
        pytest.skip(f"no local {profile} here: {problem}")
    REPORTS.mkdir(exist_ok=True)
    report = REPORTS / f"differential-report-{other}-local-{profile}.yaml"
    scenarios = REPORTS / f"differential-{other}-local-{profile}.feature"
    code = cli.main(
        [
            "differential",
            *("--targets", f"{other},local", "--profile", profile),
            *("--examples", str(EXAMPLES), "--seed", str(SEED)),
            *("--report", str(report), "--scenarios", str(scenarios)),
        ]
    )
    found = yaml.safe_load(report.read_text(encoding="utf-8"))
    assert found["compared"]["policies"] >= EXAMPLES and found["compared"]["requests"] > EXAMPLES
    assert (found["targets"]["a"], found["targets"]["b"]) == (other, "local")
    versions = found["versions"]["local"]
    if profile == "kgateway":
        assert versions["kgateway"].startswith("v2.") and found["compared"]["requestsSent"] is True
    else:
        # The controller's status and xDS only: nothing may claim a request was compared.
        assert versions["agentgateway"].startswith("v1.") and "envoy" not in versions
        assert found["compared"]["requestsSent"] is False
    unexplained = found["divergences"]
    assert not unexplained, f"{len(unexplained)} unexplained divergences; see {report} and {scenarios}"
    assert (code, found["result"]) == (0, "success")
