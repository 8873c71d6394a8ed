"""The command line: options, usage errors, targets that cannot run here; any two targets, agentgateway too."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from diffsupport import SEEDS, kgateway_world, paste_and_run

from conformance import cli
from conformance.differential import wire
from conformance.differential.cli import target_options
from conformance.differential.echo import EchoServer
from conformance.differential.pair import TargetPair
from conformance.differential.runner import DifferentialSettings, run_differential
from conformance.http import Client, RequestSpec


def test_target_options_go_to_one_target_or_both() -> None:
    options = target_options(("reference", "envoy"), ["1:fault=x", "envoy:log_level=info", "work_dir=/tmp/w"])
    assert options == ({"fault": "x", "work_dir": "/tmp/w"}, {"log_level": "info", "work_dir": "/tmp/w"})
    assert target_options(("reference", "reference"), ["2:fault=y"]) == ({}, {"fault": "y"})
    with pytest.raises(ValueError, match="is not 1, 2"):
        target_options(("reference", "reference"), ["reference:fault=y"])  # which one?
    with pytest.raises(ValueError, match="expected"):
        target_options(("reference", "envoy"), ["1:fault"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--targets", "reference"], "expected two targets"),
        (["--targets", "reference,nginx"], "unknown target 'nginx'"),
        (["--target-option", "3:fault=x"], "is not 1, 2"),
    ],
)
def test_usage_errors_name_the_option(args: list[str], message: str, capsys) -> None:
    assert cli.main(["differential", *args]) == 2
    assert message in capsys.readouterr().err


def test_a_target_that_cannot_run_here_stops_the_run_with_its_reason(tmp_path: Path, capsys) -> None:
    """`cluster` against `reference` is built to the real target API; without a cluster it says why, exit 3."""
    code = cli.main(
        [
            "differential",
            "--targets",
            "cluster,reference",
            "--target-option",
            "1:kubeconfig=" + str(tmp_path / "no-such-kubeconfig"),
            "--report",
            str(tmp_path / "r.yaml"),
        ]
    )
    error = capsys.readouterr().err
    assert code == 3
    assert "target 'cluster'" in error
    assert not (tmp_path / "r.yaml").exists()  # nothing ran, nothing reported


def test_the_echo_upstream_shows_the_request_as_it_arrived() -> None:
    client = Client()
    with EchoServer() as echo:
        spec = RequestSpec(path="/x", headers=(("A", "1"), ("a", "2")), query=(("z", "%26"), ("b", "")))
        observation = wire.send(client, echo.url, spec)
        again = wire.send(client, echo.url, spec)  # on the kept-alive connection
    client.close()
    assert again == observation
    assert observation.status == 200 and observation.upstream is not None
    assert observation.upstream.path == "/x"
    assert observation.upstream.query == "z=%26&b="
    assert observation.upstream.header("a") == ("1", "2")
    assert observation.upstream.header("host") == ("www.example.com",)


def test_agentgateway_fault_between_two_reference_gateways(tmp_path: Path) -> None:
    """Any two targets, the same one twice included: Optional mode taken for Permissive lets a wrong key
    through, and the minimal scenario says so in the agentgateway dialect."""
    for seed in SEEDS:
        settings = DifferentialSettings(
            targets=("reference", "reference"),
            profile="agentgateway",
            examples=100,
            seed=seed,
            target_options=({"fault": "optional-as-permissive"}, {}),
        )
        result = run_differential(settings)
        assert result.policies == 100 and result.requests >= 100
        if result.unknown:
            break
    [divergence] = result.unknown
    assert "status 200/401" in divergence.signature
    assert divergence.reproducible, divergence.notes
    policies = [m for m in divergence.case.manifests if m["kind"] == "AgentgatewayPolicy"]
    assert [p["spec"]["traffic"]["apiKeyAuthentication"]["mode"] for p in policies] == ["Optional"]
    scenario = divergence.scenario
    assert "@APIKeyAuthOptionalMode" in scenario
    faulty = paste_and_run(
        tmp_path / "faulty", "agentgateway", scenario, "--target-option", "fault=optional-as-permissive"
    )
    assert faulty.returncode == 1 and "1 failed" in faulty.output, faulty.output
    clean = paste_and_run(tmp_path / "clean", "agentgateway", scenario)
    assert clean.returncode == 0 and "1 passed" in clean.output, clean.output


def test_two_identical_targets_agree(tmp_path: Path) -> None:
    from conformance.differential.report import write_report

    result = run_differential(DifferentialSettings(targets=("reference", "reference"), examples=15, seed=5))
    assert not result.failed and not result.divergences
    assert result.policies == 15 and result.requests >= 15
    path = write_report(result, tmp_path / "r.yaml")
    document = yaml.safe_load(path.read_text())
    assert document["compared"]["policies"] == 15 and document["result"] == "success"


def test_pair_names_two_instances_of_one_target_apart() -> None:
    pair = TargetPair(("reference", "reference"), ({"fault": "x"}, {}), "kgateway")
    assert pair.labels == ("reference#1(fault=x)", "reference#2")


def test_the_notebook_view_tables_divergences_without_keys() -> None:
    from conformance.notebook.differential import run_differential_view

    for seed in SEEDS:
        view = run_differential_view(
            targets=("reference", "reference"),
            examples=100,
            seed=seed,
            target_options=({"fault": "ignore-forward-credential"}, {}),
        )
        if view.result.unknown:
            break
    frame = view.frame()
    assert list(frame.columns) == ["#", "verdict", "kind", "requests", "differences", "scenario"]
    assert "FAILS" in set(frame["verdict"])
    html = view._repr_html_()
    assert view.result.unknown
    for divergence in view.result.unknown:
        keys = divergence.case.keys()
        scenario = view.scenario(divergence.number)
        assert keys and not any(key in html or key in frame.to_string() or key in scenario for key in keys)
        assert "forwardCredential: true" in scenario  # what the fault ignores is what the minimal case keeps


def test_targets_without_the_echo_are_compared_through_httpbin() -> None:
    """What a cluster pair compares (httpbin's echo: joined headers, parsed args), here with two embedded targets
    made to use their real httpbin: the upstream is read from httpbin, and generated cases agree."""
    pair = TargetPair(("reference", "envoy"), ({}, {}), "kgateway", raw_echo=False)
    pair.start()
    try:
        assert pair.echo is None
        pair.load(kgateway_world(key_sources=[{"header": "x-api-key"}, {"query": "api_key"}]))
        request = RequestSpec(
            path="/anything/a", headers=(("x-api-key", "model-key-7d1e"),), query=(("z", "1"), ("b", "%26x"))
        )
        reference, envoy = pair.send(request)
        assert reference.upstream is not None and envoy.upstream is not None
        # Both rebuild the query (b=%26x becomes b=&x), so httpbin's args are {b: "", x: "", z: "1"}, sorted.
        assert reference.upstream.query == envoy.upstream.query == "b=&x=&z=1"
        assert "x-api-key" not in dict(envoy.upstream.headers)
        result = run_differential(DifferentialSettings(examples=60, seed=12), pair=pair)
    finally:
        pair.close()
    assert result.policies == 60 and not result.failed, [d.signature for d in result.unknown]
