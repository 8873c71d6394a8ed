"""The local target's parts that need no Go build: certificates and kubeconfig, the pins and the build cache, the
controller's settings and Envoy bootstrap, httpbin's Service, and why the target cannot run on a machine.
The parts that run the real binaries are tested in tests/local."""

from __future__ import annotations

import re
import socket
import ssl
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from conformance.envoy.admin import AppliedVersions, parse_version_texts
from conformance.envoy.process import free_ports
from conformance.kube.recipes import clusters_dir
from conformance.local import build, controlplane, kgateway, pki
from conformance.targets import load_target
from conformance.targets.base import TargetError
from conformance.targets.local import REQUIRED, LocalTarget, host_address, httpbin_manifests


# -- certificates -----------------------------------------------------------------------------------------------
def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_the_server_certificate_is_for_loopback_and_signed_by_the_ca(tmp_path: Path) -> None:
    made = pki.make_pki(tmp_path / "certs")
    ca, server = _cert(made.ca), _cert(made.server_cert)
    server.verify_directly_issued_by(ca)
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "127.0.0.1" in [str(ip) for ip in names.get_values_for_type(x509.IPAddress)]
    usage = server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_the_admin_is_in_system_masters_and_private_keys_are_private(tmp_path: Path) -> None:
    made = pki.make_pki(tmp_path / "certs")
    admin = _cert(made.admin_cert)
    admin.verify_directly_issued_by(_cert(made.ca))
    assert admin.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "system:masters"
    for key in (made.server_key, made.admin_key, made.sa_private):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key


def test_a_tls_client_with_the_kubeconfig_reaches_a_server_with_the_certificate(tmp_path: Path) -> None:
    """Mutual TLS over a real socket, as the API server (client CA) and the kubeconfig's user would do it."""
    made = pki.make_pki(tmp_path / "certs")
    config = yaml.safe_load(pki.kubeconfig(made, "https://127.0.0.1:1", tmp_path / "kubeconfig").read_text())
    assert stat.S_IMODE((tmp_path / "kubeconfig").stat().st_mode) == 0o600
    assert config["current-context"] == "local" and str(tmp_path) not in yaml.safe_dump(config)  # all inline
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(made.server_cert, made.server_key)
    server_context.load_verify_locations(made.ca)
    server_context.verify_mode = ssl.CERT_REQUIRED
    seen: list[str] = []
    with socket.create_server(("127.0.0.1", 0)) as listener:

        def serve() -> None:
            connection, _ = listener.accept()
            with server_context.wrap_socket(connection, server_side=True) as tls:
                subject = dict(item[0] for item in tls.getpeercert()["subject"])
                seen.append(subject["commonName"])
                tls.sendall(b"ok")

        thread = threading.Thread(target=serve)
        thread.start()
        client_context = ssl.create_default_context(cafile=str(made.ca))
        client_context.load_cert_chain(made.admin_cert, made.admin_key)
        port = listener.getsockname()[1]
        raw = socket.create_connection(("127.0.0.1", port))
        with client_context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            assert tls.recv(2) == b"ok"
        thread.join(5)
    assert seen == ["admin"]


# -- pins and builds ----------------------------------------------------------------------------------------------
def _required_version(go_mod: str, package: str) -> str | None:
    """The version go.mod requires of the module that holds `package` (the longest module path that prefixes it)."""
    found = re.findall(r"^\s*(?:require\s+)?(\S+)\s+(v\S+)", go_mod, re.M)
    owners = [(module, version) for module, version in found if package == module or package.startswith(module + "/")]
    return max(owners, key=lambda owner: len(owner[0]))[1] if owners else None


def test_each_wrapper_module_requires_the_version_versions_yaml_pins() -> None:
    parts = build.components()
    assert set(parts) == {"etcd", "kube-apiserver", "kgateway", "agentgateway", "agentgateway-xds"}
    for component in parts.values():
        go_mod = (component.module / "go.mod").read_text(encoding="utf-8")
        module = re.search(r"^module (\S+)", go_mod, re.M)
        if module and component.package.startswith(module[1] + "/"):
            continue  # this project's own program (xdsdump): tests/kube/test_local_agentgateway_units.py
        assert _required_version(go_mod, component.package) == component.version, component.name
        assert (component.module / "go.sum").is_file(), f"{component.name}: go.sum is the lock"


def test_the_kubernetes_build_is_stamped_with_its_version() -> None:
    flags = " ".join(build.components()["kube-apiserver"].ldflags)
    version = build.components()["kube-apiserver"].version
    assert f"k8s.io/component-base/version.gitVersion={version}" in flags
    assert "gitMinor=" + version.split(".")[1] in flags


def test_the_cache_key_follows_the_module_files_and_the_flags(tmp_path: Path) -> None:
    module = tmp_path / "m"
    module.mkdir()
    (module / "go.mod").write_text("module example.test/m\n")
    (module / "go.sum").write_text("")
    first = build.Component("m", module, "example.test/m", "v1.0.0").key
    assert first.startswith("v1.0.0-")
    assert build.Component("m", module, "example.test/m", "v1.0.0").key == first
    assert build.Component("m", module, "example.test/m", "v1.0.0", ("-X a=b",)).key != first
    (module / "go.sum").write_text("example.test/dep v1.0.0 h1:abc=\n")
    assert build.Component("m", module, "example.test/m", "v1.0.0").key != first


def test_a_cached_binary_is_used_without_building(tmp_path: Path) -> None:
    module = tmp_path / "m"
    module.mkdir()
    (module / "go.mod").write_text("module example.test/m\n")
    component = build.Component("m", module, "example.test/m", "v1.0.0")
    cached = tmp_path / "cache" / "m" / component.key / "m"
    cached.parent.mkdir(parents=True)
    cached.write_text("#!/bin/sh\n")
    cached.chmod(0o755)
    assert build.binary(component, cache=tmp_path / "cache", go="/nonexistent/go") == cached


def test_the_build_environment_locks_the_modules_and_the_toolchain(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOFLAGS", "-v")
    env = build.build_env()
    assert env["GOFLAGS"] == "-v -mod=readonly" and env["GOTOOLCHAIN"] == "local" and env["CGO_ENABLED"] == "0"


def _fake_path(tmp_path: Path, go_output: str | None) -> str:
    """A PATH holding only a `go` that prints `go_output` (or no `go` at all)."""
    folder = tmp_path / "bin"
    folder.mkdir(exist_ok=True)
    if go_output is not None:
        go = folder / "go"
        go.write_text(f"#!/bin/sh\necho '{go_output}'\n")
        go.chmod(0o755)
    return str(folder)


def test_without_go_or_with_an_old_one_the_reason_says_which(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", _fake_path(tmp_path, None))
    assert build.go_problem("1.26") == (
        "Go is not installed (go is not on PATH); the local target builds its parts with Go 1.26+"
    )
    monkeypatch.setenv("PATH", _fake_path(tmp_path, "go version go1.22.3 linux/amd64"))
    assert build.go_problem("1.26") == "Go 1.22 is too old: the local target's modules need Go 1.26 or newer"
    monkeypatch.setenv("PATH", _fake_path(tmp_path, "go version go1.27.0 linux/amd64"))
    assert build.go_problem("1.26") is None


def test_the_build_command_skips_without_go_unless_required(tmp_path: Path) -> None:
    env = {"PATH": _fake_path(tmp_path, None), "HOME": str(tmp_path)}
    command = [sys.executable, "-m", "conformance.local.build"]
    skipped = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert skipped.returncode == 0 and skipped.stderr.startswith("skipped: Go is not installed")
    required = subprocess.run(
        command, env={**env, REQUIRED: "1"}, capture_output=True, text=True, timeout=120, check=False
    )
    assert required.returncode == 2 and required.stderr.startswith("error: Go is not installed")


@pytest.mark.skipif(build.go_problem(build.go_minimum()) is not None, reason="needs Go to compile")
def test_a_failed_build_says_which_part_why_and_where_the_log_is(tmp_path: Path) -> None:
    module = tmp_path / "broken"
    module.mkdir()
    (module / "go.mod").write_text("module example.test/broken\n\ngo 1.22\n")
    (module / "main.go").write_text("package main\n\nfunc main() { undefinedCall() }\n")
    component = build.Component("broken", module, ".", "v0.0.1")
    with pytest.raises(build.BuildError) as caught:
        build.binary(component, cache=tmp_path / "cache")
    message = str(caught.value)
    assert message.startswith("building broken failed (exit 1): ")
    assert "undefined: undefinedCall" in message and str(tmp_path / "cache") in message
    assert not list((tmp_path / "cache").rglob("broken/*/broken"))  # nothing half-built is cached


# -- processes ------------------------------------------------------------------------------------------------------
def test_free_ports_are_distinct() -> None:
    ports = free_ports(20)
    assert len(set(ports)) == 20


def test_a_process_that_dies_while_awaited_says_why(tmp_path: Path) -> None:
    process = controlplane.Process("dying", ["sh", "-c", "echo 'bind: address in use' >&2; exit 3"], tmp_path / "l")
    process.start()
    with pytest.raises(RuntimeError) as caught:
        controlplane.wait_ready(process, lambda: "not yet", 30, "the dying process")
    assert str(caught.value) == "dying exited with code 3: bind: address in use"
    process.stop()


def test_a_process_that_never_gets_ready_times_out_with_its_log(tmp_path: Path) -> None:
    process = controlplane.Process("slow", ["sh", "-c", "echo starting; sleep 30"], tmp_path / "l")
    process.start()
    try:
        with pytest.raises(RuntimeError, match=r"the slow process was not ready within 1 s \(waiting\): starting"):
            controlplane.wait_ready(process, lambda: "waiting", 1.0, "the slow process")
    finally:
        process.stop()
    assert process.popen is None


# -- the controller and its Envoys ------------------------------------------------------------------------------
def test_the_controller_runs_out_of_cluster_with_a_self_managed_class(tmp_path: Path) -> None:
    controller = kgateway.Controller(Path("/bin/kgateway"), tmp_path / "kubeconfig", tmp_path, 19977)
    env = controller.environment()
    assert env["KUBECONFIG"] == str(tmp_path / "kubeconfig")
    assert env["KGW_XDS_SERVICE_PORT"] == "19977"
    assert {env[k] for k in ("KGW_XDS_AUTH", "DISABLE_POD_LOCALITY_XDS", "KGW_LISTENER_BIND_IPV6")} == {"false", "true"}
    refs = yaml.safe_load(env["KGW_GATEWAY_CLASS_PARAMETERS_REFS"])
    assert refs == {"kgateway": {"name": kgateway.SELF_MANAGED, "namespace": kgateway.CONTROLLER_NAMESPACE}}
    assert kgateway.self_managed_parameters()["spec"] == {"selfManaged": {}}


def test_a_port_the_controller_needs_is_reported_taken() -> None:
    with socket.socket() as holder:
        holder.bind(("0.0.0.0", 0))
        holder.listen()
        port = holder.getsockname()[1]
        assert controlplane.busy_ports({port: "xDS"}) == [f"{port} (xDS)"]
    (free,) = free_ports(1, "0.0.0.0")
    assert controlplane.busy_ports({free: "xDS"}) == []


def test_each_envoy_asks_the_controller_for_its_gateways_snapshot() -> None:
    bootstrap = kgateway.envoy_bootstrap("team-a", "gw", 19977)
    assert bootstrap["node"]["metadata"]["role"] == "kgateway-kube-gateway-api~team-a~gw"
    (cluster,) = bootstrap["static_resources"]["clusters"]
    endpoint = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]
    assert endpoint["socket_address"] == {"address": "127.0.0.1", "port_value": 19977}
    assert bootstrap["dynamic_resources"]["lds_config"]["ads"] == {}


def test_httpbin_is_a_service_whose_endpoint_slice_points_at_the_host() -> None:
    service, endpoints = httpbin_manifests("team-a", "192.0.2.7", 41234)
    assert service["spec"]["ports"][0]["port"] == 8000 and service["metadata"]["namespace"] == "team-a"
    assert endpoints["metadata"]["labels"]["kubernetes.io/service-name"] == "httpbin"
    assert endpoints["endpoints"][0]["addresses"] == ["192.0.2.7"] and endpoints["ports"][0]["port"] == 41234


def test_the_host_address_is_never_loopback() -> None:
    address = host_address()
    assert address is None or not address.startswith("127.")


# -- can it run here -----------------------------------------------------------------------------------------------
def test_the_target_is_listed_with_its_options() -> None:
    assert load_target("local") is LocalTarget
    assert {"envoy_path", "xds_port", "startup_timeout", "keep"} <= set(LocalTarget.Options.model_fields)


def test_without_go_the_target_skips_with_one_reason_or_fails_when_required(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", _fake_path(tmp_path, None))
    monkeypatch.delenv(REQUIRED, raising=False)
    reason = LocalTarget.unavailable_reason({})
    assert reason == (
        "target 'local' cannot run here: Go is not installed (go is not on PATH); the local target builds its "
        "parts with Go 1.26+"
    )
    monkeypatch.setenv(REQUIRED, "1")
    with pytest.raises(TargetError, match=f"{REQUIRED} is set: Go is not installed"):
        LocalTarget.unavailable_reason({})


def test_the_versions_under_test_come_from_versions_yaml() -> None:
    pins = yaml.safe_load((clusters_dir() / "versions.yaml").read_text())["local"]
    found = LocalTarget.implementation_versions({})["kgateway"]
    assert found.version == pins["kgateway"]["version"]


def test_one_controller_per_run_chosen_by_the_profile_or_the_implementation_option(tmp_path: Path) -> None:
    assert LocalTarget.profiles_for(LocalTarget.Options.parse({})) == {"kgateway"}
    assert LocalTarget.profiles_for(LocalTarget.Options.parse({"profiles": ("agentgateway",)})) == {"agentgateway"}
    chosen = LocalTarget.Options.parse({"implementation": "agentgateway"})
    assert LocalTarget.profiles_for(chosen) == {"agentgateway"}
    assert set(LocalTarget.implementation_versions(chosen)) == {"agentgateway"}
    with pytest.raises(ValueError, match="one controller at a time"):
        LocalTarget.Options.parse({"implementation": "kgateway,agentgateway"})

    kgateway_run = LocalTarget({"work_dir": str(tmp_path)})
    assert (kgateway_run.implementation, kgateway_run.xds_port, kgateway_run.traffic_unavailable) == (
        "kgateway",
        9977,
        None,
    )
    assert set(kgateway_run.components) == {"etcd", "kube-apiserver", "kgateway"}


def test_agentgateway_runs_its_controller_only_and_sends_no_request(tmp_path: Path) -> None:
    target = LocalTarget({"work_dir": str(tmp_path), "profiles": ("agentgateway",), "xds_port": 19978})
    assert (target.implementation, target.xds_port) == ("agentgateway", 19978)
    assert set(target.components) == {"etcd", "kube-apiserver", "agentgateway", "agentgateway-xds"}
    assert target.traffic_unavailable is not None and "data plane" in target.traffic_unavailable
    assert (target.controller_namespace, target.gateway_class) == ("agentgateway-system", "agentgateway")
    with pytest.raises(TargetError, match="sends no request: agentgateway's data plane is Rust"):
        target.base_url(80)
    with pytest.raises(TargetError, match="runs no Envoy"):
        target.envoy_config(80)
    with pytest.raises(TargetError, match="only when it runs the agentgateway controller"):
        target.agentgateway_xds("agentgateway-system", "agentgateway-proxy")  # not started


def test_a_controller_outside_its_supported_kubernetes_range_stops_the_start(tmp_path: Path) -> None:
    target = LocalTarget({"work_dir": str(tmp_path), "profiles": ("agentgateway",)})
    target._check_supported("v1.36.1")  # inside agentgateway 1.4's range
    with pytest.raises(TargetError, match=r"cannot run agentgateway here: agentgateway v1\.4\.1 supports Kubernetes"):
        target._check_supported("v1.37.0")
    with pytest.raises(TargetError, match="cannot tell the API server's Kubernetes version"):
        target._check_supported("unknown")
    kgateway_run = LocalTarget({"work_dir": str(tmp_path)})
    with pytest.raises(TargetError, match=r"kgateway v2\.3\.\d+ supports Kubernetes v1\.31 to v1\.35, not v1\.36\.0"):
        kgateway_run._check_supported("v1.36.0")


@pytest.mark.parametrize(
    "option", ["kgateway_version=v2.3.7", "gateway_api_version=v1.6.0", "dry_run=true", "install=false", "kubeconfig=k"]
)
def test_cluster_options_that_do_not_apply_are_refused_by_name(option: str) -> None:
    name, _, value = option.partition("=")
    with pytest.raises(ValueError, match=rf"target option {name}='{value}': does not apply to the local target"):
        LocalTarget.Options.parse({name: value})


def test_an_envoy_is_current_when_it_holds_the_controllers_versions_of_what_the_snapshot_still_has() -> None:
    wanted = kgateway.SnapshotVersions(frozenset({"7", "8"}), frozenset({"listener~8080", "kube_httpbin"}))
    current = AppliedVersions(lds="7", cds="7", routes={"listener~8080": "8"})
    assert kgateway.stale_versions(current, wanted) == set()
    # A route configuration the snapshot dropped stays in Envoy while its removed listener drains: not awaited.
    draining = AppliedVersions(lds="7", cds="7", routes={"listener~8080": "8", "listener~8081": "5"})
    assert kgateway.stale_versions(draining, wanted) == set()
    behind = AppliedVersions(lds="6", cds="7", routes={"listener~8080": "5"})
    assert kgateway.stale_versions(behind, wanted) == {"5", "6"}


def test_each_subscriptions_accepted_version_is_read_from_its_version_text() -> None:
    # As Envoy 1.38 prints them: a route configuration whose content did not change keeps its old version in the
    # config dump, but its RDS subscription's version_text is that of the update that carried it.
    text = "\n".join(
        [
            'cluster.kube_httpbin_8000.version_text: "85"',
            'cluster_manager.cds.version_text: "56"',
            'http.http.rds.listener~8080.version_text: "99"',
            'http.http.rds.listener~8081.version_text: ""',
            'listener_manager.lds.version_text: "12"',
        ]
    )
    assert parse_version_texts(text) == AppliedVersions(lds="12", cds="56", routes={"listener~8080": "99"})
