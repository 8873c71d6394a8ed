"""The behaviour both Kubernetes targets share (shown through the cluster target): namespaces created and
removed, reset after failures, status conditions, addresses and port-forwards; the dry run; and why a target
cannot run here (missing or too old tools, no Docker engine, no cluster)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from conformance.kube.conditions import ObjectRef
from conformance.kube.recipes import KubeAccess
from conformance.targets import load_target
from conformance.targets.base import PolicyCondition, TargetUnavailable
from conformance.targets.cluster import ClusterTarget
from conformance.targets.kind import KindTarget

GATEWAY = ObjectRef("gateway.networking.k8s.io/v1", "Gateway", "kgateway-system", "http")
HTTPBIN = ObjectRef("v1", "Service", "kgateway-system", "httpbin")
AGW_GATEWAY = ObjectRef("gateway.networking.k8s.io/v1", "Gateway", "agentgateway-system", "agentgateway-proxy")
AGW_HTTPBIN = ObjectRef("v1", "Service", "agentgateway-system", "httpbin")
INSTALLED = {GATEWAY, HTTPBIN, AGW_GATEWAY, AGW_HTTPBIN, ObjectRef("v1", "Namespace", None, "kgateway-system")}
#: The proxy Services the controllers made for the installed Gateways, with their listener ports.
GATEWAY_SERVICES = {
    ObjectRef("v1", "Service", "kgateway-system", "http"): [8080],
    ObjectRef("v1", "Service", "agentgateway-system", "agentgateway-proxy"): [80],
}
CLUSTER_SCOPED = {"Namespace", "ClusterRole"}


def service(ports: list[int]) -> dict[str, Any]:
    return {"metadata": {}, "spec": {"ports": [{"name": f"l{port}", "port": port} for port in ports]}}


class FakeApi:
    """An in-memory API server: objects by ref, a log of calls, and deletions that can be made to fail. Like a
    controller, it gives a Gateway's Service the Gateway's listener ports, `service_lag` reads after the apply."""

    def __init__(self, access: KubeAccess | None = None, cache_file: str = "") -> None:
        self.objects: dict[ObjectRef, dict[str, Any]] = {ref: {"metadata": {"name": ref.name}} for ref in INSTALLED}
        self.objects.update({ref: service(ports) for ref, ports in GATEWAY_SERVICES.items()})
        self.log: list[tuple[str, str]] = []
        self.failing: set[ObjectRef] = set()
        self.closed = False
        self.service_lag = 0
        self._pending_ports: dict[ObjectRef, tuple[int, list[int]]] = {}

    def is_namespaced(self, api_version: str, kind: str) -> bool:
        return kind not in CLUSTER_SCOPED

    def apply(self, manifest: Mapping[str, Any]) -> None:
        ref = ObjectRef.from_manifest(manifest)
        if ref.kind not in CLUSTER_SCOPED and ref.namespace is None:
            ref = ObjectRef(ref.api_version, ref.kind, "default", ref.name)
        self.log.append(("apply", ref.label))
        if manifest.get("spec", {}).get("reject"):
            raise ValueError(f"{ref.label} rejected: spec.reject: Unsupported value")
        self.objects[ref] = dict(manifest)
        if ref.kind == "Gateway":
            ports = [listener["port"] for listener in manifest["spec"]["listeners"]]
            self._pending_ports[ObjectRef("v1", "Service", ref.namespace, ref.name)] = (self.service_lag, ports)

    def get(self, ref: ObjectRef) -> dict[str, Any] | None:
        if ref in self._pending_ports:
            lag, ports = self._pending_ports.pop(ref)
            if lag > 0:
                self._pending_ports[ref] = (lag - 1, ports)
            else:
                self.objects[ref] = service(ports)
        return self.objects.get(ref)

    def delete(self, ref: ObjectRef) -> bool:
        self.log.append(("delete", ref.label))
        if ref in self.failing:
            raise RuntimeError(f"could not delete {ref.label}: forbidden")
        return self.objects.pop(ref, None) is not None

    def namespace_exists(self, name: str) -> bool:
        return ObjectRef("v1", "Namespace", None, name) in self.objects

    def create_namespace(self, name: str) -> None:
        self.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})

    def close(self) -> None:
        self.closed = True


class FakeForward:
    """Like `kubectl port-forward`: it refuses a port the Service does not have, and fails while the proxy pod
    is not running (`failures` more starts)."""

    started: list[list[str]] = []
    api: FakeApi | None = None
    failures = 0

    def __init__(self, argv: Sequence[str]) -> None:
        self.argv = list(argv)
        self.local_port: int | None = None
        self.running = False

    def start(self) -> int:
        FakeForward.started.append(self.argv)
        namespace, name = self.argv[self.argv.index("--namespace") + 1], self.argv[-2].removeprefix("service/")
        port = int(self.argv[-1].removeprefix(":"))
        found = FakeForward.api.get(ObjectRef("v1", "Service", namespace, name)) if FakeForward.api else None
        if found is None or port not in [p["port"] for p in found["spec"]["ports"]]:
            raise RuntimeError(
                f"`kubectl port-forward` exited: error: Service {name} does not have a service port {port}"
            )
        if FakeForward.failures:
            FakeForward.failures -= 1
            raise RuntimeError(
                "`kubectl port-forward` exited: error: unable to forward port because pod is not running"
            )
        self.local_port, self.running = 40000 + len(FakeForward.started), True
        return self.local_port

    def alive(self) -> bool:
        return self.running

    def stop(self) -> None:
        self.running = False


def started(tmp_path: Path, api: FakeApi | None = None, **options: Any) -> tuple[ClusterTarget, FakeApi]:
    api = api or FakeApi()
    FakeForward.api, FakeForward.failures = api, 0
    target = ClusterTarget(
        {
            "profiles": ["kgateway"],
            "work_dir": str(tmp_path),
            "kubeconfig": "/kc",
            "context": "ctx",
            "consistency": {"poll_interval": 0.01},
            **options,
        },
        api_factory=lambda access, cache: api,
        port_forward=FakeForward,  # type: ignore[arg-type]
        which={"kubectl": "/bin/kubectl", "helm": "/bin/helm"}.get,
        runner=lambda argv: pytest.fail(f"the cluster target ran {argv} without install=true"),
    )
    target.start()
    return target, api


def secret(name: str, namespace: str | None) -> dict[str, Any]:
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "stringData": {"alice": "k-1"}}


def policy(name: str, namespace: str = "kgateway-system", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "gateway.kgateway.dev/v1alpha1",
        "kind": "TrafficPolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def test_start_checks_the_profile_gateway_and_httpbin(tmp_path: Path) -> None:
    api = FakeApi()
    del api.objects[GATEWAY]
    with pytest.raises(RuntimeError, match=r"Gateway kgateway-system/http for kgateway is not in the cluster"):
        started(tmp_path, api)
    api = FakeApi()
    del api.objects[HTTPBIN]
    with pytest.raises(RuntimeError, match=r"Service kgateway-system/httpbin .* apply clusters/httpbin.yaml"):
        started(tmp_path, api)


def test_apply_creates_missing_namespaces_and_reset_removes_them(tmp_path: Path) -> None:
    target, api = started(tmp_path)
    target.apply([secret("keys", "team-keys"), secret("local", "kgateway-system"), policy("p")])
    assert api.log == [
        ("apply", "Namespace team-keys"),
        ("apply", "Secret team-keys/keys"),
        ("apply", "Secret kgateway-system/local"),
        ("apply", "TrafficPolicy kgateway-system/p"),
    ]
    api.log.clear()
    target.reset()
    assert api.log == [
        ("delete", "TrafficPolicy kgateway-system/p"),
        ("delete", "Secret kgateway-system/local"),
        ("delete", "Secret team-keys/keys"),
        ("delete", "Namespace team-keys"),
    ]
    assert set(api.objects) == INSTALLED | set(GATEWAY_SERVICES)
    api.log.clear()
    target.reset()
    assert api.log == []  # nothing left to clean


def test_existing_namespaces_are_never_deleted(tmp_path: Path) -> None:
    target, api = started(tmp_path)
    target.apply([secret("keys", "kgateway-system"), secret("d", None)])
    assert ("apply", "Namespace default") in api.log  # absent in the fake, so created and removed again
    target.reset()
    assert ObjectRef("v1", "Namespace", None, "kgateway-system") in api.objects


def test_a_rejected_manifest_is_still_cleaned_up(tmp_path: Path) -> None:
    target, api = started(tmp_path)
    with pytest.raises(ValueError, match=r"TrafficPolicy kgateway-system/bad rejected: spec.reject"):
        target.apply([secret("keys", "team-keys"), policy("bad", reject=True)])
    api.log.clear()
    target.reset()
    assert [entry[1] for entry in api.log] == [
        "TrafficPolicy kgateway-system/bad",
        "Secret team-keys/keys",
        "Namespace team-keys",
    ]


def test_reset_attempts_every_deletion_and_reports_the_failures(tmp_path: Path) -> None:
    target, api = started(tmp_path)
    target.apply([secret("a", "kgateway-system"), secret("b", "kgateway-system")])
    api.failing.add(ObjectRef("v1", "Secret", "kgateway-system", "b"))
    with pytest.raises(RuntimeError, match=r"reset could not clean up: could not delete Secret kgateway-system/b"):
        target.reset()
    assert ObjectRef("v1", "Secret", "kgateway-system", "a") not in api.objects


def test_delete_forgets_what_it_deleted(tmp_path: Path) -> None:
    target, api = started(tmp_path)
    target.apply([secret("a", "kgateway-system")])
    target.delete([secret("a", "kgateway-system"), secret("never-applied", "kgateway-system")])
    api.log.clear()
    target.reset()
    assert api.log == []


def test_policy_condition_reads_the_ancestor_status(tmp_path: Path) -> None:
    target, api = started(tmp_path)
    target.apply([policy("p")])
    assert target.policy_condition("TrafficPolicy", "kgateway-system", "p") is None
    ref = ObjectRef("gateway.kgateway.dev/v1alpha1", "TrafficPolicy", "kgateway-system", "p")
    api.objects[ref]["status"] = {
        "ancestors": [
            {
                "conditions": [
                    {
                        "type": "Accepted",
                        "status": "False",
                        "reason": "Invalid",
                        "message": "no valid API keys found in secrets",
                    }
                ]
            }
        ]
    }
    assert target.policy_condition("TrafficPolicy", "kgateway-system", "p") == PolicyCondition(
        "Accepted", "False", "Invalid", "no valid API keys found in secrets"
    )
    assert target.policy_condition("AgentgatewayPolicy", "agentgateway-system", "absent") is None
    with pytest.raises(ValueError, match="unknown policy kind 'Nope'"):
        target.policy_condition("Nope", "x", "y")


def test_wait_applied_times_out_with_the_resource_named(tmp_path: Path) -> None:
    target, _ = started(tmp_path)
    attached = policy("p", targetRefs=[{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "http"}])
    target.apply([attached])
    with pytest.raises(TimeoutError, match=r"TrafficPolicy kgateway-system/p waiting for a final status from every"):
        target.wait_applied([attached], timeout=0.05)


def test_base_url_port_forwards_per_listener_and_restarts_a_dead_forward(tmp_path: Path) -> None:
    FakeForward.started.clear()
    target, _ = started(tmp_path, implementation="kgateway,agentgateway")
    first = target.base_url(8080)
    assert first == target.base_url(8080)  # one forward per listener, reused
    assert target.base_url(80) != first
    assert FakeForward.started == [
        [
            "/bin/kubectl",
            "--kubeconfig",
            "/kc",
            "--context",
            "ctx",
            "port-forward",
            "--namespace",
            "kgateway-system",
            "--address",
            "127.0.0.1",
            "service/http",
            ":8080",
        ],
        [
            "/bin/kubectl",
            "--kubeconfig",
            "/kc",
            "--context",
            "ctx",
            "port-forward",
            "--namespace",
            "agentgateway-system",
            "--address",
            "127.0.0.1",
            "service/agentgateway-proxy",
            ":80",
        ],
    ]
    target._forwards[8080].stop()  # kubectl exits when the proxy pod is replaced
    assert target.base_url(8080) != first and len(FakeForward.started) == 3
    with pytest.raises(ValueError, match=r"no Gateway listener on port 9999 .* gateway_url_9999=URL"):
        target.base_url(9999)
    target.close()
    assert not any(forward.alive() for forward in target._forwards.values())


def test_explicit_gateway_url(tmp_path: Path) -> None:
    FakeForward.started.clear()
    target, _ = started(tmp_path, gateway_url_8080="http://203.0.113.7:8080/")
    assert target.base_url(8080) == "http://203.0.113.7:8080"
    assert FakeForward.started == []


def test_close_resets_and_closes_the_client(tmp_path: Path) -> None:
    target, api = started(tmp_path)
    target.apply([secret("keys", "team-keys")])
    target.close()
    assert api.closed and ObjectRef("v1", "Namespace", None, "team-keys") not in api.objects


def test_install_true_runs_the_install_sequence(tmp_path: Path) -> None:
    ran: list[list[str]] = []
    target = ClusterTarget(
        {"profiles": "agentgateway", "work_dir": str(tmp_path), "install": "true"},
        api_factory=lambda access, cache: FakeApi(),
        which={"kubectl": "/bin/kubectl", "helm": "/bin/helm"}.get,
        runner=lambda argv: ran.append(list(argv)) or "",
    )
    assert target.implementations == ("agentgateway",)
    target._prepare()
    assert ran[0][:3] == ["/bin/kubectl", "apply", "--server-side"]  # no kubeconfig option: kubectl's default
    assert any("agentgateway-crds" in argv for argv in ran)


# -- why a target cannot run here ---------------------------------------------------------------------------


def test_registry_finds_both_targets() -> None:
    assert load_target("kind") is KindTarget
    assert load_target("cluster") is ClusterTarget


def test_on_this_machine_each_target_runs_or_says_why_in_one_sentence() -> None:
    for target in (KindTarget, ClusterTarget):
        reason = target.unavailable_reason({"profiles": ["kgateway"]})
        assert reason is None or (reason.startswith(f"target '{target.name}'") and "\n" not in reason)


def test_kind_without_docker_or_tools(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on PATH
    assert KindTarget.unavailable_reason({}) == (
        "target 'kind' cannot run here: Docker is not installed (no `docker` on PATH), and kind runs its nodes as "
        "Docker containers; kind, kubectl, helm not found on PATH (this project never downloads them)"
    )


def test_kind_with_a_stopped_docker_engine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # A docker CLI whose engine is down: `docker --version` works, `docker info` does not.
    docker = tmp_path / "docker"
    docker.write_text(
        '#!/bin/sh\n[ "$1" = info ] && { echo "Cannot connect to the Docker daemon" >&2; exit 1; }\necho 27\n'
    )
    docker.chmod(0o755)
    fake_tools(tmp_path, CURRENT)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert KindTarget.unavailable_reason({}) == (
        "target 'kind' cannot run here: the Docker engine is not running "
        "(`docker info` exited with 1: Cannot connect to the Docker daemon)"
    )


def test_tools_older_than_the_pins_are_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake_tools(tmp_path, {**OLD, "docker": "27.0.1"})  # a running Docker engine
    monkeypatch.setenv("PATH", str(tmp_path))
    assert KindTarget.unavailable_reason({}) == (
        f"target 'kind' cannot run here: kind v0.29.0 ({tmp_path / 'kind'}) is older than v0.31.0, the minimum in "
        f"clusters/versions.yaml; kubectl v1.30.2 ({tmp_path / 'kubectl'}) is older than v1.31.0, the minimum in "
        f"clusters/versions.yaml; helm v3.11.3 ({tmp_path / 'helm'}) is older than v3.12.0, the minimum in "
        f"clusters/versions.yaml"
    )
    assert ClusterTarget.unavailable_reason({"install": "true"}) == (
        f"target 'cluster' cannot run here: kubectl v1.30.2 ({tmp_path / 'kubectl'}) is older than v1.31.0, the "
        f"minimum in clusters/versions.yaml; helm v3.11.3 ({tmp_path / 'helm'}) is older than v3.12.0, the minimum "
        f"in clusters/versions.yaml"
    )


def test_current_tools_pass_and_an_unreadable_version_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake_tools(tmp_path, {**CURRENT, "docker": "27.0.1"})
    monkeypatch.setenv("PATH", str(tmp_path))
    assert KindTarget.unavailable_reason({}) is None
    fake_tools(tmp_path, {"helm": "Error: unknown flag: --short"})
    assert KindTarget.unavailable_reason({}) == (
        f"target 'kind' cannot run here: could not read the version of helm: `{tmp_path / 'helm'} version --short` "
        f"printed 'Error: unknown flag: --short'"
    )


def test_cluster_without_a_kubeconfig(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))
    monkeypatch.setenv("PATH", os.pathsep.join([str(_tool_dir(tmp_path)), os.environ.get("PATH", "")]))
    reason = ClusterTarget.unavailable_reason({})
    assert reason is not None and reason.startswith("target 'cluster' has no cluster to run against: no Kubernetes")
    assert reason.endswith("choose one with --target-option kubeconfig=PATH and --target-option context=NAME")


def test_cluster_whose_api_server_does_not_answer(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: dead\n"
        "clusters: [{name: dead, cluster: {server: 'https://127.0.0.1:9'}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: dead, context: {cluster: dead, user: u}}]\n"
    )
    monkeypatch.setenv("PATH", str(_tool_dir(tmp_path)))
    reason = ClusterTarget.unavailable_reason({"kubeconfig": str(kubeconfig), "context": "dead"})
    assert reason is not None
    assert reason.startswith(
        f"target 'cluster' has no cluster to run against: the Kubernetes API server at https://127.0.0.1:9 "
        f"(kubeconfig {kubeconfig}, context dead) is not reachable"
    )


def test_cluster_needs_kubectl_unless_every_address_is_given(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert ClusterTarget.unavailable_reason({}) == "target 'cluster' needs kubectl on PATH, and it is not there"
    assert ClusterTarget.unavailable_reason({"install": "true"}) == (
        "target 'cluster' needs kubectl and helm on PATH, and they are not there"
    )
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))
    reason = ClusterTarget.unavailable_reason({"gateway_url_8080": "http://gw:8080"})
    assert reason is not None and "no Kubernetes cluster is configured" in reason


def kubectl_json(version: str) -> str:
    return json.dumps({"clientVersion": {"major": "1", "gitVersion": version}, "kustomizeVersion": "v5.5.0"})


#: What each tool's version command prints, in its real format.
CURRENT = {"kind": "kind v0.31.0 go1.25.5 linux/amd64", "kubectl": kubectl_json("v1.35.1"), "helm": "v3.17.1+g980d8ac"}
OLD = {"kind": "kind v0.29.0 go1.24.2 linux/amd64", "kubectl": kubectl_json("v1.30.2"), "helm": "v3.11.3+g3a31588"}


def fake_tools(directory: Path, outputs: Mapping[str, str]) -> None:
    """Executables that print `output` for any arguments (`docker info` then succeeds too); only shell builtins,
    since PATH may hold nothing else."""
    for name, output in outputs.items():
        assert "'" not in output
        (directory / name).write_text(f"#!/bin/sh\nprintf '%s\\n' '{output}'\n")
        (directory / name).chmod(0o755)


def _tool_dir(tmp_path: Path) -> Path:
    tools = tmp_path / "bin"
    tools.mkdir(exist_ok=True)
    fake_tools(tools, {"kubectl": CURRENT["kubectl"]})
    return tools


def gateway(*ports: int) -> dict[str, Any]:
    listeners = [{"name": f"l{port}", "protocol": "HTTP", "port": port} for port in ports]
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {"name": "http", "namespace": "kgateway-system"},
        "spec": {"gatewayClassName": "kgateway", "listeners": listeners},
    }


def test_an_installed_gateway_a_scenario_extends_is_restored_not_deleted(tmp_path: Path) -> None:
    FakeForward.started.clear()
    api = FakeApi()
    installed = {**gateway(8080), "status": {"conditions": []}}
    installed["metadata"] = {
        **installed["metadata"],
        "managedFields": [{"manager": "kubectl"}],
        "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}", "team": "edge"},
    }
    api.objects[GATEWAY] = installed
    target, _ = started(tmp_path, api)
    target.apply([gateway(8080, 8081)])
    assert target.base_url(8081).startswith("http://127.0.0.1:")
    assert FakeForward.started[-1][-2:] == ["service/http", ":8081"]  # the Gateway's own Service
    forward_8081 = target._forwards[8081]
    api.log.clear()
    target.reset()
    assert api.log == [("apply", "Gateway kgateway-system/http")]  # put back, never deleted
    assert api.objects[GATEWAY] == {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {"name": "http", "namespace": "kgateway-system", "annotations": {"team": "edge"}},
        "spec": gateway(8080)["spec"],
    }
    assert not forward_8081.alive() and 8081 not in target._forwards
    with pytest.raises(ValueError, match="no Gateway listener on port 8081"):
        target.base_url(8081)


def test_a_pre_existing_object_a_scenario_deletes_comes_back(tmp_path: Path) -> None:
    api = FakeApi()
    ref = ObjectRef("v1", "Secret", "kgateway-system", "shared")
    api.objects[ref] = {
        **secret("shared", "kgateway-system"),
        "metadata": {"name": "shared", "namespace": "kgateway-system"},
    }
    target, _ = started(tmp_path, api)
    target.apply([secret("shared", "kgateway-system")])
    target.delete(
        [{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "shared", "namespace": "kgateway-system"}}]
    )
    assert ref not in api.objects
    target.reset()
    assert api.objects[ref]["stringData"] == {"alice": "k-1"}


def test_a_delete_step_without_api_version(tmp_path: Path) -> None:
    target, api = started(tmp_path)
    target.apply([policy("p")])
    target.delete(
        [{"apiVersion": "", "kind": "TrafficPolicy", "metadata": {"namespace": "kgateway-system", "name": "p"}}]
    )
    assert ObjectRef("gateway.kgateway.dev/v1alpha1", "TrafficPolicy", "kgateway-system", "p") not in api.objects
    target.delete([{"apiVersion": "", "kind": "AgentgatewayPolicy", "metadata": {"namespace": "x", "name": "never"}}])
    assert api.log[-1] == ("delete", "AgentgatewayPolicy x/never")


# -- a listener a scenario adds: its Service gains the port late ----------------------------------------------


def test_a_new_listener_is_forwarded_once_its_service_has_the_port(tmp_path: Path) -> None:
    FakeForward.started.clear()
    api = FakeApi()
    api.objects[GATEWAY] = gateway(8080)
    api.service_lag = 3  # the controller updates the Service three reads after the Gateway changed
    target, _ = started(tmp_path, api)
    target.apply([gateway(8080, 8081)])
    FakeForward.failures = 2  # and the proxy pod for the new port is not running for two more attempts
    url = target.base_url(8081)
    assert url == f"http://127.0.0.1:{40000 + len(FakeForward.started)}"
    # Never started before the Service had the port; retried while the pod was not running.
    assert len(FakeForward.started) == 3
    assert all(argv[-2:] == ["service/http", ":8081"] for argv in FakeForward.started)


def test_a_port_that_never_reaches_the_service_is_named(tmp_path: Path) -> None:
    api = FakeApi()
    api.objects[GATEWAY] = gateway(8080)
    api.service_lag = 10_000
    target, _ = started(tmp_path, api, forward_timeout="0.05")
    target.apply([gateway(8080, 8081)])
    with pytest.raises(
        TimeoutError, match=r"Service kgateway-system/http waiting for port 8081, last seen: ports 8080"
    ):
        target.base_url(8081)


def test_a_forward_that_keeps_failing_gives_up_with_kubectl_s_message(tmp_path: Path) -> None:
    target, _ = started(tmp_path, forward_timeout="0.05")
    FakeForward.failures = 10_000
    with pytest.raises(
        RuntimeError,
        match=r"no port-forward to Service kgateway-system/http port 8080 within 0.05 s: .*pod is not running",
    ):
        target.base_url(8080)


# -- the dry run -------------------------------------------------------------------------------------------------


def test_cluster_dry_run_needs_nothing_and_plans_no_install_by_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no kubectl, no helm, no cluster
    assert ClusterTarget.unavailable_reason({"dry_run": "true"}) is None
    target = ClusterTarget({"profiles": "kgateway", "work_dir": str(tmp_path), "dry_run": "true"})
    with pytest.raises(TargetUnavailable, match=r"dry run of target 'cluster': printed the install plan"):
        target.start()
    plan = (tmp_path / "install-plan.txt").read_text()
    assert plan.splitlines()[-1] == (
        "Install: nothing (install=false); the profile Gateways and httpbin must already be there"
    )
    assert "  kubectl: not found on PATH (needed, >= v1.31.0)" in plan
    assert "a real run here would stop: kubectl not found on PATH" in plan


def test_cluster_dry_run_with_install_plans_the_pinned_releases(tmp_path: Path) -> None:
    target = ClusterTarget(
        {"profiles": "agentgateway", "work_dir": str(tmp_path), "dry_run": "true", "install": "true", "context": "c"},
        which={"kubectl": "/bin/kubectl", "helm": "/bin/helm"}.get,
        runner=lambda argv: {"/bin/kubectl": CURRENT["kubectl"], "/bin/helm": CURRENT["helm"]}[argv[0]],
        api_factory=lambda access, cache: pytest.fail("a dry run must not reach the cluster"),
    )
    plan = target.plan()
    assert not plan.setup and not plan.teardown
    helm = [step.argv for step in plan.install if step.argv[0] == "/bin/helm"]
    assert [argv[5:9] for argv in helm] == [
        ["agentgateway-crds", "oci://cr.agentgateway.dev/charts/agentgateway-crds", "--version", "v1.4.1"],
        ["agentgateway", "oci://cr.agentgateway.dev/charts/agentgateway", "--version", "v1.4.1"],
    ]
    assert all(argv[1:3] == ["--kube-context", "c"] for argv in helm)
    assert list(plan.notes) == []  # tools found and new enough, versions inside the supported ranges
