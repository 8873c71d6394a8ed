"""Version-aware profiles: first releases per feature, scenario requirements, and what a version under test lacks."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from conformance.kube.recipes import load_recipes
from conformance.profiles import PROFILES
from conformance.releases import (
    Release,
    Requirement,
    VersionUnderTest,
    newer_features,
    parse_releases,
    releases,
    requirements,
    version_gap,
)
from conformance.report import validate
from conformance.scenarios import catalogue
from conformance.suite import features_dir


def v(text: str) -> Release:
    release = Release.parse(text)
    assert release is not None
    return release


def test_releases_order_as_semantic_versions() -> None:
    ordered = ["v1.2.0", "v1.3.0-alpha.1", "v1.3.0-alpha.2", "v1.3.0-beta.1", "v1.3.0-rc.1", "v1.3.0", "1.3.1"]
    assert sorted((v(t) for t in reversed(ordered)), key=lambda r: r) == [v(t) for t in ordered]
    assert v("v1.3.0-rc.2") < v("v1.3.0-rc.10")  # numeric identifiers compare as numbers
    assert v("v2.3.7") == v("2.3.7") and str(v("2.3.7")) == "v2.3.7"
    assert str(v("v1.4.0-rc.1+build.5")) == "v1.4.0-rc.1"
    # A commit or a branch is not a release: nothing can be gated on it.
    assert Release.parse("75b4e6ce6e0e") is None and Release.parse("main") is None and Release.parse("v1.4") is None


def test_the_shipped_file_gives_every_profile_feature_a_first_release_with_sources() -> None:
    data = releases()
    for name, profile in PROFILES.items():
        assert set(data[name].features) == set(profile.features)
        for first in [*data[name].features.values(), *data[name].capabilities.values()]:
            assert first.sources and all("(" in source for source in first.sources)
    agentgateway = data["agentgateway"].features
    assert str(agentgateway["APIKeyAuthPermissiveMode"].since) == "v1.3.0"
    assert str(agentgateway["APIKeyAuthHashedKeys"].since) == "v1.4.0"
    assert str(agentgateway["APIKeyAuthQuerySource"].since) == "v1.2.0"  # `location`
    assert {str(f.since) for f in data["kgateway"].features.values()} == {"v2.2.0"}


def _file(**overrides: object) -> dict:
    source = [{"fact": "f", "from": "somewhere"}]
    data: dict = {
        name: {"features": {f: {"since": "v1.0.0", "sources": source} for f in p.features}}
        for name, p in PROFILES.items()
    }
    for path, value in overrides.items():
        profile, _, rest = path.partition("__")
        section, _, key = rest.partition("__")
        data[profile].setdefault(section, {})
        if value is None:
            del data[profile][section][key]
        else:
            data[profile][section][key] = value
    return data


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"kgateway__features__APIKeyAuthDisable": None}, "missing APIKeyAuthDisable"),
        (
            {"agentgateway__features__APIKeyAuthDisable": {"since": "v1.0.0"}},
            "not features of the profile: APIKeyAuthDisable",
        ),
        (
            {"kgateway__features__APIKeyAuth": {"since": "v2.2.0"}},
            "kgateway.features.APIKeyAuth: every first release needs its sources",
        ),
        (
            {"kgateway__features__APIKeyAuth": {"since": "2.2", "sources": [{"fact": "f", "from": "x"}]}},
            "APIKeyAuth.since: expected a release",
        ),
        (
            {"kgateway__capabilities__x": {"since": "soon", "sources": [{"fact": "f", "from": "x"}]}},
            "capabilities.x.since",
        ),
    ],
)
def test_a_bad_releases_file_is_refused_naming_the_entry(overrides: dict, problem: str) -> None:
    with pytest.raises(ValueError, match=r"feature_releases\.yaml") as error:
        parse_releases(_file(**overrides))
    assert problem in str(error.value)


def test_scenario_tags_name_a_capability_or_a_minimum_release() -> None:
    found = requirements(["kgateway", "requires:duplicate-keys", "since:kgateway=v2.4.1", "slow"], "kgateway", "here")
    assert [(r.profile, str(r.since)) for r in found] == [("kgateway", "v2.5.0"), ("kgateway", "v2.4.1")]
    assert found[0].describe() == (
        "duplicate key handling (the same client and key collapse; one key under two clients is Invalid) "
        "first appears in kgateway v2.5.0"
    )
    assert found[1].describe() == "@since:kgateway=v2.4.1 first appears in kgateway v2.4.1"
    assert requirements(["APIKeyAuth", "agentgateway"], "agentgateway", "here") == ()


@pytest.mark.parametrize(
    ("tag", "problem"),
    [
        ("since:kgateway", "expected @since:<profile>=<version>"),
        ("since:kgateway=soon", "expected @since:<profile>=<version>"),
        ("since:envoy=v1.0.0", "expected @since:<profile>=<version>"),
        ("since:agentgateway=v1.4.0", "names profile agentgateway, but the scenario is a kgateway scenario"),
        ("requires:key-hash", "unknown kgateway capability 'key-hash'"),
    ],
)
def test_a_malformed_version_tag_is_refused_naming_the_scenario(tag: str, problem: str) -> None:
    with pytest.raises(ValueError, match=r"features/x\.feature:3") as error:
        requirements([tag], "kgateway", "features/x.feature:3")
    assert problem in str(error.value)


def test_a_version_older_than_a_feature_makes_it_not_supported_with_the_reason() -> None:
    old = VersionUnderTest("agentgateway", "v1.3.1", "--implementation-version")
    assert version_gap("agentgateway", "APIKeyAuthHashedKeys", (), old) == (
        "feature APIKeyAuthHashedKeys first appears in agentgateway v1.4.0; the implementation under test is v1.3.1"
    )
    assert version_gap("agentgateway", "APIKeyAuthPermissiveMode", (), old) is None
    assert newer_features("agentgateway", old) == {"APIKeyAuthHashedKeys": "v1.4.0"}
    older = VersionUnderTest("agentgateway", "v1.1.0", "x")
    assert newer_features("agentgateway", older) == {
        "APIKeyAuthCustomHeader": "v1.2.0",
        "APIKeyAuthQuerySource": "v1.2.0",
        "APIKeyAuthCookieSource": "v1.2.0",
        "APIKeyAuthPermissiveMode": "v1.3.0",
        "APIKeyAuthHashedKeys": "v1.4.0",
    }
    # A pre-release of the first release is older than it: not credited with the feature.
    rc = VersionUnderTest("agentgateway", "v1.4.0-rc.1", "x")
    assert "first appears in agentgateway v1.4.0" in (version_gap("agentgateway", "APIKeyAuthHashedKeys", (), rc) or "")


def test_a_scenario_requirement_newer_than_the_version_gates_only_that_scenario() -> None:
    needs = (Requirement("kgateway", v("v2.5.0"), "secretSelector.matchExpressions"),)
    pinned = VersionUnderTest("kgateway", "v2.3.7", "clusters/versions.yaml")
    assert version_gap("kgateway", "APIKeyAuthSecretSelector", needs, pinned) == (
        "secretSelector.matchExpressions first appears in kgateway v2.5.0; the implementation under test is v2.3.7"
    )
    assert version_gap("kgateway", "APIKeyAuthSecretSelector", (), pinned) is None
    assert (
        version_gap("kgateway", "APIKeyAuthSecretSelector", needs, VersionUnderTest("kgateway", "v2.5.0", "x")) is None
    )


@pytest.mark.parametrize("version", [None, "0123abcd4567", "main"])
def test_an_unknown_or_non_release_version_gates_nothing(version: str | None) -> None:
    under_test = VersionUnderTest("agentgateway", version, "x") if version else None
    needs = (Requirement("agentgateway", v("v9.0.0"), "future"),)
    assert version_gap("agentgateway", "APIKeyAuthHashedKeys", needs, under_test) is None
    assert newer_features("agentgateway", under_test) == {}


def test_the_pinned_releases_have_every_feature_and_lack_only_the_known_capabilities() -> None:
    """clusters/versions.yaml against the scenarios: a kind run gates nothing at feature level, and exactly the
    scenarios that need newer kgateway code are NOT_SUPPORTED there."""
    recipes = load_recipes()
    gated: dict[str, set[str]] = {}
    for name, impl in recipes.implementations.items():
        pinned = VersionUnderTest(name, impl.version, "pins")
        assert newer_features(name, pinned) == {}, f"{name} {impl.version} lacks features the suite uses"
        for info in catalogue(features_dir()).values():
            if info.profile == name:
                gap = version_gap(name, info.feature, info.requirements, pinned)
                if gap:
                    gated.setdefault(name, set()).add(gap.split(" first appears")[0])
    assert set(gated) <= {"kgateway"}
    assert gated.get("kgateway", set()) <= {
        releases()["kgateway"].capabilities["duplicate-keys"].name,
        releases()["kgateway"].capabilities["secret-selector-expressions"].name,
    }


def test_the_catalogue_reads_requirements_from_scenario_rule_and_feature_tags(tmp_path: Path) -> None:
    (tmp_path / "kgateway").mkdir()
    (tmp_path / "kgateway" / "x.feature").write_text(
        textwrap.dedent(
            """\
            @kgateway @APIKeyAuth @since:kgateway=v2.2.1
            Feature: x
              Scenario: plain
                Given the gateway routes "www.example.com" to httpbin

              @requires:duplicate-keys
              Scenario: needs more
                Given the gateway routes "www.example.com" to httpbin
            """
        )
    )
    found = {info.name: info.requirements for info in catalogue(tmp_path).values()}
    assert [str(r.since) for r in found["plain"]] == ["v2.2.1"]
    assert sorted(str(r.since) for r in found["needs more"]) == ["v2.2.1", "v2.5.0"]
    (tmp_path / "kgateway" / "x.feature").unlink()
    (tmp_path / "kgateway" / "y.feature").write_text(
        "@kgateway @APIKeyAuth\nFeature: y\n  @since:kgateway=later\n  Scenario: bad\n    Given x\n"
    )
    with pytest.raises(pytest.UsageError, match=r"'bad' \(kgateway/y.feature:4\).*@since:kgateway=later"):
        catalogue(tmp_path)


def test_the_kube_targets_judge_against_their_pins_or_an_overriding_target_option() -> None:
    from conformance.targets.cluster import ClusterTarget
    from conformance.targets.kind import KindTarget

    pins = yaml.safe_load((load_recipes().root / "versions.yaml").read_text())["implementations"]
    found = KindTarget.implementation_versions({})
    assert {name: v.version for name, v in found.items()} == {name: pins[name]["version"] for name in pins}
    assert found["kgateway"].source.endswith("versions.yaml")
    override = KindTarget.implementation_versions({"kgateway_version": "v2.2.9"})["kgateway"]
    assert (override.version, override.source) == ("v2.2.9", "target option kgateway_version")
    # A run that installs nothing cannot know the cluster's release: it names none.
    assert KindTarget.implementation_versions({"install": "false"}) == {}
    assert ClusterTarget.implementation_versions({}) == {}
    assert ClusterTarget.implementation_versions({"install": "true"}) == found


def test_a_run_judged_against_an_older_release_reports_not_supported_with_the_reason(run_suite) -> None:
    run = run_suite("--profile", "agentgateway", "--implementation-version", "v1.2.1", "-rs")
    assert run.returncode == 0, run.output[-3000:]
    report = run.report
    validate(report)
    profile = run.profile("agentgateway")
    assert profile["implementationVersion"] == {
        "version": "v1.2.1",
        "source": "--implementation-version",
        "newerFeatures": {"APIKeyAuthPermissiveMode": "v1.3.0", "APIKeyAuthHashedKeys": "v1.4.0"},
    }
    assert set(profile["extended"]["unsupportedFeatures"]) == {"APIKeyAuthPermissiveMode", "APIKeyAuthHashedKeys"}
    results = {(s["feature"], s["result"]) for s in report["scenarios"]}
    assert ("APIKeyAuthPermissiveMode", "not-supported") in results and (
        "APIKeyAuthHashedKeys",
        "not-supported",
    ) in results
    assert ("APIKeyAuthQuerySource", "passed") in results  # v1.2.0 has `location`
    messages = {s["message"] for s in report["scenarios"] if s["result"] == "not-supported"}
    assert (
        "feature APIKeyAuthPermissiveMode first appears in agentgateway v1.3.0; the implementation under test is v1.2.1"
        in messages
    )
    # Scenarios of an older feature that need a newer release are gated one by one (@requires:key-hash).
    assert any(m.startswith("keyHash entries") for m in messages)
    assert profile["result"] == "success"  # NOT_SUPPORTED is out of the statistics
    assert "judged as agentgateway v1.2.1 (--implementation-version)" in run.output
    assert report["certification"]["eligible"] is False  # a version alone is not a certification run


def test_an_implementation_version_is_the_release_of_the_upstream_project_it_names(run_suite) -> None:
    run = run_suite(
        "--implementation-version", "v1.2.1", "--implementation-project", "agentgateway", "-k", "Permissive or guide"
    )
    assert run.returncode == 0, run.output[-3000:]
    assert run.profile("agentgateway")["implementationVersion"]["version"] == "v1.2.1"
    assert "implementationVersion" not in run.profile("kgateway")  # v1.2.1 is not a kgateway release
    assert {s["result"] for s in run.report["scenarios"] if s["profile"] == "kgateway"} == {"passed"}
    # Another gateway's own version is no upstream release: nothing is judged against it.
    run = run_suite("--implementation-version", "v1.2.1", "--implementation-project", "example-gateway", "-k", "guide")
    assert run.returncode == 0, run.output[-3000:]
    assert all("implementationVersion" not in p for p in run.report["profiles"])
    # Without a project, one version cannot be both projects' release.
    run = run_suite("--implementation-version", "v1.2.1", "-k", "guide")
    assert run.returncode == 4
    assert "--implementation-version is one project's release" in run.output


def test_a_kind_run_marks_what_its_pins_lack_not_supported_before_anything_starts(run_suite) -> None:
    """The version verdicts come from the pins alone, before the target starts: a scenario the pinned kgateway
    cannot pass is NOT_SUPPORTED with the version reason; the others skip with the target's one reason here."""
    from conformance.targets import load_target

    reason = load_target("kind").unavailable_reason({"profiles": "kgateway"})
    if reason is None:
        pytest.skip("this machine can run the kind target")
    run = run_suite("--target", "kind", "--profile", "kgateway")
    assert run.returncode == 0, run.output[-3000:]
    report = run.report
    validate(report)
    judged = run.profile("kgateway")["implementationVersion"]
    assert judged["version"] == load_recipes().implementation("kgateway").version
    assert judged["newerFeatures"] == {}
    gated = [s for s in report["scenarios"] if s["result"] == "not-supported"]
    expected = f"first appears in kgateway v2.5.0; the implementation under test is {judged['version']}"
    assert gated and all(expected in s["message"] for s in gated)
    skipped = [s for s in report["scenarios"] if s["result"] == "skipped"]
    assert skipped and all(reason in s["message"] for s in skipped)
    assert len(gated) + len(skipped) == len(report["scenarios"])
