"""A known behavioural fault injected into one target is found, shrunk, and its printed scenario, pasted into a
feature file, fails on the faulty target and passes on the other (and on the reference without the fault)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import yaml
from diffsupport import SEEDS, paste_and_run, printed_scenarios

from conformance import cli

# A wrong key in the first key source rescued by a right key in a later one (conformance/targets/faults.py).
FAULT = "later-source-rescues"


def test_an_injected_fault_is_shrunk_to_a_scenario_that_fails_only_on_the_faulty_target(tmp_path: Path, capsys) -> None:
    report, scenarios = tmp_path / "differential.yaml", tmp_path / "differential.feature"
    # Each seed almost always meets the fault within 100 cases; see SEEDS.
    for seed in SEEDS:
        code = cli.main(
            [
                "differential",
                "--targets",
                "reference,envoy",
                "--examples",
                "100",
                "--seed",
                str(seed),
                "--target-option",
                f"1:fault={FAULT}",
                "--report",
                str(report),
                "--scenarios",
                str(scenarios),
            ]
        )
        output = capsys.readouterr().out
        assert code in (0, 1), output
        assert "compared 100 policies and" in output
        if code == 1:
            break
    assert code == 1, f"the fault was not found with seeds {SEEDS}"

    document = yaml.safe_load(report.read_text())
    assert document["result"] == "failure"
    # The faulty reference lets the request through where Envoy answers 401: to the upstream (200), or to the 500
    # of a route kgateway replaced (an invalid route policy behind a valid one around it).
    found = document["divergences"]
    assert all(any(s in ("status 200/401", "status 500/401") for s in d["signature"]) for d in found), found
    [divergence] = [d for d in found if "status 200/401" in d["signature"]]
    assert divergence["shrunk"] and divergence["scenario"]["reproducible"]
    # Shrunk: one request with exactly one wrong key first and one right key later, nothing else.
    assert (
        len(divergence["request"]["headers"])
        + len(divergence["request"]["query"])
        + len(divergence["request"]["cookies"])
        == 2
    )

    # The report names no key; the scenarios (test data, like features/) hold the generated ones.
    docstring = textwrap.dedent(scenarios.read_text().split('"""')[1])
    keys = [v for d in yaml.safe_load_all(docstring) if d["kind"] == "Secret" for v in d["stringData"].values()]
    assert keys and all(key in scenarios.read_text() for key in keys)
    assert not any(key in report.read_text() for key in keys)

    [scenario] = [s for s in printed_scenarios(output) if "status 200/401" in s]
    assert "Then the response status is 401" in scenario
    faulty = paste_and_run(tmp_path / "faulty", "kgateway", scenario, "--target-option", f"fault={FAULT}")
    assert faulty.returncode == 1 and "1 failed" in faulty.output, faulty.output
    envoy = paste_and_run(tmp_path / "envoy", "kgateway", scenario, "--target", "envoy")
    assert envoy.returncode == 0 and "1 passed" in envoy.output, envoy.output
    clean = paste_and_run(tmp_path / "clean", "kgateway", scenario)
    assert clean.returncode == 0 and "1 passed" in clean.output, clean.output
