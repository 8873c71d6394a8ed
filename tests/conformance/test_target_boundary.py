"""The target boundary: typed options (one source of names, defaults and help), the settings' precedence, the
Outline binding, and log redaction that only a conformance run installs."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from conformance.cli import targets_help
from conformance.consistency import ConsistencySettings
from conformance.objects import CreationOrdered, ObjectKey
from conformance.options import OPTIONS, consistency_from_env, setting, split_target_options
from conformance.scenarios import BOUND, EXAMPLE_ID, bind, catalogue
from conformance.suite import features_dir
from conformance.targets import TARGETS, load_target
from conformance.targets.options import ClusterOptions, EnvoyOptions, KindOptions, ReferenceOptions


def test_options_are_typed_from_strings_and_typed_values_alike():
    options = EnvoyOptions.parse(
        {"startup_timeout": "12.5", "httpbin": "false", "gateway_classes": "a, b", "backends": "svc=http://h:1"}
    )
    assert options.startup_timeout == 12.5 and options.httpbin is False and options.gateway_classes == ("a", "b")
    assert options.backends == {"svc": "http://h:1"}
    assert EnvoyOptions.parse({"backends": {"svc": "http://h:1"}}).backends == options.backends
    assert EnvoyOptions.parse(options) is options
    kube = ClusterOptions.parse({"gateway_url_8080": "http://lb:80/", "profiles": "agentgateway"})
    assert kube.gateway_urls == {8080: "http://lb:80"} and kube.implementations == ("agentgateway",)
    assert KindOptions.parse({}).installs is True and ClusterOptions.parse({}).installs is False


@pytest.mark.parametrize(
    ("model", "given", "message"),
    [
        (EnvoyOptions, {"startup_timeout": "soon"}, "target option startup_timeout='soon': expected a number"),
        (EnvoyOptions, {"startup_timeout": "-1"}, "startup_timeout='-1': expected a positive number"),
        (EnvoyOptions, {"log_level": "loud"}, "log_level='loud': expected one of trace, debug"),
        (KindOptions, {"reuse": "maybe"}, "reuse='maybe': expected true or false"),
        (ReferenceOptions, {"fault": "nope"}, "fault='nope': unknown fault; expected one of"),
        (ReferenceOptions, {"backends": "svc=ftp://h"}, "expected NAME[.NAMESPACE][:PORT]=http://HOST:PORT"),
        (ReferenceOptions, {"envoy_path": "/x"}, "unknown target option 'envoy_path'; this target takes: work_dir"),
        (ClusterOptions, {"gateway_url_x": "http://h"}, "expected gateway_url_<listener port>=URL"),
    ],
)
def test_a_wrong_option_is_named_with_what_it_takes(model, given, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        model.parse(given)


def test_every_target_lists_its_options_with_their_defaults_from_the_model():
    text = targets_help()
    for name in TARGETS:
        target = load_target(name)
        assert f"{name}: {target.summary}" in text
        for option, _, default, description in target.Options.fields_help():
            assert f"  {option}" in text and description in text and f"default {default})" in text
    assert "profiles" not in text.split("\n", 1)[1].split()[0:1]  # set by the harness, not listed as an option


def test_the_consistency_defaults_live_in_one_place():
    defaults = {f.name: f.default for f in fields(ConsistencySettings)}
    assert OPTIONS["consecutive_successes"].default == str(defaults["required_consecutive_successes"])
    assert float(OPTIONS["poll_interval"].default) == defaults["poll_interval"]
    assert float(OPTIONS["max_time_to_consistency"].default) == defaults["max_time_to_consistency"]
    assert consistency_from_env({}) == ConsistencySettings()
    assert consistency_from_env({"APIKEY_CONFORMANCE_POLL_INTERVAL": "0.5"}).poll_interval == 0.5


def test_a_setting_is_read_from_the_flag_then_the_environment_then_the_ini():
    environ = {"APIKEY_CONFORMANCE_PROFILE": "agentgateway"}
    assert setting("conformance_profile", "kgateway", environ, "all") == "kgateway"
    assert setting("conformance_profile", None, environ, "all") == "agentgateway"
    assert setting("conformance_profile", None, {}, "all") == "all"
    assert setting("conformance_profile", None, {}, None) == "all"  # the default
    assert setting("poll_interval", None, {}, None) == OPTIONS["poll_interval"].default


def test_target_options_from_the_environment_keep_a_backend_map_whole():
    text = "backends=httpbin=http://a:1,echo.ns:80=http://b:2,fault=x,gateway_url_80=http://c"
    assert split_target_options(text) == [
        "backends=httpbin=http://a:1,echo.ns:80=http://b:2",
        "fault=x",
        "gateway_url_80=http://c",
    ]


def test_objects_are_keyed_with_the_api_servers_defaults_and_kept_in_creation_order():
    assert ObjectKey.of({"kind": "Secret", "metadata": {"name": "k"}}) == ("Secret", "default", "k")
    assert ObjectKey.of({"kind": "GatewayClass", "metadata": {"name": "c", "namespace": "x"}}) == (
        "GatewayClass",
        "",
        "c",
    )
    assert ObjectKey.of({"kind": "Widget", "metadata": {"name": "w"}}, namespaced=False).namespace == ""
    objects: CreationOrdered[str] = CreationOrdered()
    a, b = ObjectKey("A", "n", "a"), ObjectKey("B", "n", "b")
    assert objects.put(a, "1") and objects.put(b, "2") and not objects.put(a, "3")
    assert objects.values() == ["3", "2"]  # an update keeps its place
    objects.pop(a)
    objects.put(a, "4")
    assert objects.values() == ["2", "4"] and objects.creation[a] > objects.creation[b]  # a new object again


def test_outline_examples_are_named_by_row_never_by_value():
    namespace: dict[str, object] = {}
    bind(namespace, features_dir())
    outlines = {i.id.split("@")[0] for i in catalogue(features_dir()).values() if i.example_line is not None}
    assert outlines, "the suite has Scenario Outlines"
    for name, test in namespace.items():
        marks = [m for m in getattr(test, "pytestmark", []) if m.name == "parametrize"]
        _, relative, line = BOUND[test]
        if f"{relative}:{line}" in outlines:
            assert len(marks) == 1
            assert all(EXAMPLE_ID.match(param.id) for param in marks[0].args[1]), name
        else:
            assert not marks


def test_a_pytest_session_that_runs_no_scenario_keeps_its_logging_as_it_is(tmp_path: Path):
    (tmp_path / "test_plain.py").write_text(
        "import logging\n"
        "def test_record_factory_untouched():\n"
        "    assert logging.getLogRecordFactory() is logging.LogRecord\n"
    )
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path / "test_plain.py")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
