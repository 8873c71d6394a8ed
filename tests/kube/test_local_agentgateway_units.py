"""agentgateway's part of the local target, without a Go build: the pins of its two components (the controller and
this project's xDS reader), what the release supports, the controller's settings, the API generators' cache, and how
the xDS reader's output is read (with a stand-in shell script for the reader). tests/local runs the real ones."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest
import yaml

from conformance.kube.recipes import clusters_dir, compatibility_problems, load_recipes
from conformance.kube.versions import Version
from conformance.local import agentgateway, build


def _pins() -> dict:
    return yaml.safe_load((clusters_dir() / "versions.yaml").read_text(encoding="utf-8"))["local"]


def _go_mod() -> str:
    return (build.components()["agentgateway"].module / "go.mod").read_text(encoding="utf-8")


def _required(go_mod: str, module: str) -> str | None:
    found = re.search(rf"^\s*(?:require\s+)?{re.escape(module)}\s+(v\S+)", go_mod, re.M)
    return found[1] if found else None


# -- the components ------------------------------------------------------------------------------------------------
def test_the_controller_is_the_pinned_release_stamped_with_its_version() -> None:
    controller = build.components()["agentgateway"]
    assert controller.module == clusters_dir() / "local" / "modules" / "agentgateway"
    assert controller.package == "github.com/agentgateway/agentgateway/controller/cmd/agentgateway"
    assert controller.version == _pins()["agentgateway"]["version"] == "v1.4.1"
    assert _required(_go_mod(), agentgateway.AGENTGATEWAY_MODULE) == controller.version
    assert controller.ldflags == ("-X github.com/agentgateway/agentgateway/controller/pkg/version.Version=v1.4.1",)
    assert controller.generate is agentgateway.generate_api


def test_the_xds_reader_is_this_projects_program_in_the_same_module() -> None:
    parts = build.components()
    reader, controller = parts["agentgateway-xds"], parts["agentgateway"]
    module = re.search(r"^module (\S+)", _go_mod(), re.M)
    assert module is not None and reader.package == f"{module[1]}/xdsdump"
    assert (reader.module, reader.version) == (controller.module, controller.version)
    assert reader.generate is controller.generate
    assert reader.sources == ("xdsdump/*.go",) and (reader.module / "xdsdump" / "main.go").is_file()
    # The api module is generated into the build's copy only; the wrapper replaces it with ./api.
    assert "replace github.com/agentgateway/agentgateway/api => ./api" in _go_mod()
    assert not (controller.module / "api").exists()


def test_this_projects_go_files_are_part_of_the_cache_key_and_only_of_theirs(tmp_path: Path) -> None:
    module = tmp_path / "m"
    (module / "tool").mkdir(parents=True)
    (module / "go.mod").write_text("module example.test/m\n")
    (module / "tool" / "main.go").write_text("package main\n")
    reader = build.Component("r", module, "example.test/m/tool", "v1.0.0", sources=("tool/*.go",))
    other = build.Component("c", module, "example.test/dep/cmd", "v1.0.0")
    before = (reader.key, other.key)
    (module / "tool" / "main.go").write_text("package main\n\nfunc main() {}\n")
    assert reader.key != before[0] and other.key == before[1]


def test_what_it_is_built_against_is_what_the_module_requires() -> None:
    go_mod = _go_mod()
    built_with = _pins()["agentgateway"]["builtWith"]
    for part in ("kubernetes", "gatewayApi"):
        assert _required(go_mod, built_with[part]["module"]) == built_with[part]["version"], part
    assert built_with["kubernetes"]["version"] == "v0.36.3"
    for staging in ("k8s.io/api", "k8s.io/apimachinery", "k8s.io/apiextensions-apiserver"):
        assert _required(go_mod, staging) == "v0.36.3", staging
    assert built_with["gatewayApi"]["version"] == "v1.6.1"


def test_every_pinned_fact_names_where_it_was_read() -> None:
    for key in ("agentgateway", "agentgatewayXds"):
        sources = _pins()[key]["sources"]
        assert sources and all(source["fact"] and source["from"] for source in sources), key


# -- what the release supports ---------------------------------------------------------------------------------------
def test_the_local_api_server_and_gateway_api_are_supported_by_both_controllers() -> None:
    recipes = load_recipes()
    kubernetes = Version.parse(_pins()["kubeApiserver"]["version"], "local.kubeApiserver.version")
    assert compatibility_problems(recipes, ("agentgateway",), kubernetes) == []
    assert compatibility_problems(recipes, ("kgateway",), kubernetes) == []


def test_an_api_server_outside_the_supported_range_is_named() -> None:
    problems = compatibility_problems(load_recipes(), ("agentgateway",), Version.parse("v1.37.0", "test"))
    assert problems == ["agentgateway v1.4.1 supports Kubernetes v1.31 to v1.36, not v1.37.0"]


# -- the controller ------------------------------------------------------------------------------------------------
def test_the_controller_runs_out_of_cluster(tmp_path: Path) -> None:
    controller = agentgateway.Controller(Path("/bin/agentgateway"), tmp_path / "kubeconfig", tmp_path)
    env = controller.environment()
    assert controller.xds_port == agentgateway.XDS_PORT == 9978
    assert env["KUBECONFIG"] == str(tmp_path / "kubeconfig")
    assert env["AGW_AGENTGATEWAY_XDS_SERVICE_PORT"] == "9978"
    assert (env["AGW_XDS_AUTH"], env["AGW_DISABLE_LEADER_ELECTION"], env["AGW_LISTENER_BIND_IPV6"]) == (
        "false",
        "true",
        "false",
    )
    assert env["POD_NAMESPACE"] == agentgateway.CONTROLLER_NAMESPACE == "agentgateway-system"
    assert agentgateway.GATEWAY_CLASS == "agentgateway"
    other = agentgateway.Controller(Path("/bin/agentgateway"), tmp_path / "kubeconfig", tmp_path, 19978)
    assert other.environment()["AGW_AGENTGATEWAY_XDS_SERVICE_PORT"] == "19978"


def test_a_taken_port_stops_the_start_with_a_clear_reason(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("0.0.0.0", 0))
        holder.listen()
        port = holder.getsockname()[1]
        controller = agentgateway.Controller(tmp_path / "never-run", tmp_path / "kubeconfig", tmp_path, port)
        with pytest.raises(RuntimeError) as caught:
            controller.start(timeout=1)
    message = str(caught.value)
    assert message.startswith("agentgateway needs ports that are in use: ") and f"{port} (xDS)" in message
    assert "one agentgateway or kgateway controller runs per machine" in message
    assert controller.process is None


# -- the API generators ----------------------------------------------------------------------------------------------
def _apigen(tmp_path: Path, go_sum: str = "") -> Path:
    apigen = tmp_path / "apigen"
    apigen.mkdir(exist_ok=True)
    (apigen / "go.mod").write_text("module example.test/apigen\n")
    (apigen / "go.sum").write_text(go_sum)
    return apigen


def test_the_generators_are_keyed_by_apigens_module_files(tmp_path: Path) -> None:
    apigen = _apigen(tmp_path)
    first = agentgateway.generators_key(apigen)
    assert re.fullmatch(r"[0-9a-f]{12}", first) and agentgateway.generators_key(apigen) == first
    _apigen(tmp_path, "github.com/bufbuild/buf v1.71.0 h1:abc=\n")
    assert agentgateway.generators_key(apigen) != first
    real = build.components()["agentgateway"].module / "apigen"
    assert agentgateway.generators_key(real) == agentgateway.generators_key(real)  # the repository's files read


def test_cached_generators_are_used_without_building(tmp_path: Path) -> None:
    apigen = _apigen(tmp_path)
    folder = tmp_path / "cache" / "agentgateway-apigen" / agentgateway.generators_key(apigen) / "bin"
    folder.mkdir(parents=True)
    for package in agentgateway.GENERATORS:
        tool = folder / package.rsplit("/", 1)[1]
        tool.write_text("#!/bin/sh\n")
        tool.chmod(0o755)
    names = {p.name for p in folder.iterdir()}
    assert names == {"buf", "protoc-gen-go-grpc", "protoc-gen-go", "protoc-gen-golang-jsonshim"}
    found = agentgateway.generators(apigen, build.build_env(), cache=tmp_path / "cache", go="/nonexistent/go")
    assert found == folder


def _fake_generation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, buf: str) -> Path:
    """A wrapper module copy whose generators are cached stand-ins (`buf` is the buf script's body) and whose
    agentgateway module is a read-only folder like the module cache's; returns the copy."""
    copy = tmp_path / "module"
    (copy / "apigen").mkdir(parents=True)
    for name in ("go.mod", "go.sum"):
        (copy / "apigen" / name).write_text(f"{name} of apigen\n")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    tools = build.cache_dir() / "agentgateway-apigen" / agentgateway.generators_key(copy / "apigen") / "bin"
    tools.mkdir(parents=True)
    for package in agentgateway.GENERATORS:
        tool = tools / package.rsplit("/", 1)[1]
        tool.write_text(f"#!/bin/sh\n{buf if tool.name == 'buf' else 'exit 0'}\n")
        tool.chmod(0o755)
    source = tmp_path / "agentgateway@v1.4.1"
    protos = source / agentgateway.PROTO_DIR
    protos.mkdir(parents=True)
    for name in ("buf.yaml", "buf.gen.yaml", f"{agentgateway.PROTO_DIR}/resource.proto"):
        (source / name).write_text('syntax = "proto3";\n')
    protos.chmod(0o555)
    monkeypatch.setattr(agentgateway, "module_dir", lambda folder, module: (source, "v1.4.1"))
    return copy


def test_the_api_module_is_generated_into_the_copy_with_upstreams_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    buf = 'echo "$@" > ../buf-args; mkdir api; echo "package api" > api/resource.pb.go; echo "x" > api/notes.txt'
    copy = _fake_generation(tmp_path, monkeypatch, buf.replace("../buf-args", str(tmp_path / "buf-args")))
    agentgateway.generate_api(copy, build.build_env())
    assert sorted(p.name for p in (copy / "api").iterdir()) == ["go.mod", "resource.pb.go"]
    assert (copy / "api" / "go.mod").read_text() == agentgateway.API_GO_MOD
    assert (tmp_path / "buf-args").read_text().split() == [
        "generate",
        *("--path", "crates/protos/proto/resource.proto", "--path", "crates/protos/proto/ext_mcp.proto"),
    ]


def test_a_failed_generation_says_why_and_where_the_log_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = _fake_generation(tmp_path, monkeypatch, "echo 'Failure: plugin golang-jsonshim: not found'; exit 1")
    with pytest.raises(build.BuildError) as caught:
        agentgateway.generate_api(copy, build.build_env())
    message = str(caught.value)
    assert message.startswith("building agentgateway's API module (buf generate) failed (exit 1): ")
    assert "plugin golang-jsonshim: not found" in message and message.endswith("generate.log)")
    assert not (copy / "api").exists()
    copy = _fake_generation(tmp_path / "quiet", monkeypatch, "exit 0")
    with pytest.raises(build.BuildError, match="buf wrote no Go files"):
        agentgateway.generate_api(copy, build.build_env())


# -- reading the xDS -------------------------------------------------------------------------------------------------
SECRET = "k-not-to-be-shown-123"
DUMP = {
    "resources": {
        "policy/traffic/team/keys:apikeyauth:team/route": {
            "policy": {"key": "traffic/team/keys", "traffic": {"apiKeyAuth": {"apiKeys": [{"key": SECRET}]}}}
        },
        "bind/80/team/gw": {"bind": {"key": "80/team/gw", "port": 80}},
    },
    "addresses": {"team/gw.team.svc.cluster.local": {"service": {"name": "gw"}}},
}


def _dump_tool(tmp_path: Path, stdout: str, stderr: str = "", code: int = 0) -> Path:
    """A stand-in for xdsdump: records its arguments, prints `stdout` and `stderr`, exits with `code`."""
    (tmp_path / "out.json").write_text(stdout)
    tool = tmp_path / "xdsdump"
    tool.write_text(
        f'#!/bin/sh\necho "$@" > {tmp_path}/argv\ncat {tmp_path}/out.json\necho "{stderr}" >&2\nexit {code}\n'
    )
    tool.chmod(0o755)
    return tool


def test_the_dump_is_read_as_the_gateways_proxy(tmp_path: Path) -> None:
    tool = _dump_tool(tmp_path, json.dumps(DUMP))
    dump = agentgateway.read_xds(tool, "team", "gw", port=19978, timeout=7.5)
    assert dump == DUMP
    argv = (tmp_path / "argv").read_text().split()
    assert argv == ["-addr=127.0.0.1:19978", "-namespace=team", "-gateway=gw", "-quiet=500ms", "-timeout=7500ms"]
    assert agentgateway.policies(dump) == {
        "policy/traffic/team/keys:apikeyauth:team/route": DUMP["resources"][
            "policy/traffic/team/keys:apikeyauth:team/route"
        ]["policy"]
    }


def test_a_failed_read_says_why_and_never_shows_the_output(tmp_path: Path) -> None:
    tool = _dump_tool(tmp_path, json.dumps(DUMP), "xdsdump: the stream ended: connection refused", 1)
    with pytest.raises(RuntimeError) as caught:
        agentgateway.read_xds(tool, "team", "gw")
    message = str(caught.value)
    assert message.startswith("reading the xDS of Gateway team/gw from 127.0.0.1:9978 failed (exit 1): ")
    assert message.endswith("connection refused") and SECRET not in message
    broken = json.dumps(DUMP)[:-5]  # not JSON any more, and still holding the key
    with pytest.raises(RuntimeError) as caught:
        agentgateway.read_xds(_dump_tool(tmp_path, broken), "team", "gw")
    assert "the output is not JSON" in str(caught.value) and SECRET not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    with pytest.raises(RuntimeError, match="not a resources and addresses document"):
        agentgateway.read_xds(_dump_tool(tmp_path, json.dumps({"resources": {}})), "team", "gw")
    with pytest.raises(RuntimeError, match=r"failed: .*No such file"):
        agentgateway.read_xds(tmp_path / "missing", "team", "gw")
