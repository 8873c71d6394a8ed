"""The real agentgateway controller (built from its Go module at the pinned release) against the real API server of
conftest.py: an AgentgatewayPolicy with `traffic.apiKeyAuthentication` is accepted, what the controller serves the
Gateway's proxies over xDS (read with this project's xdsdump, as a proxy would ask) carries exactly the Secret's keys
with their metadata and the mode, and follows a change of the Secret.

The keys are test values, yet the xDS is only ever shown redacted: assertion messages name keys, never show them."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conformance.kube.conditions import Expectation, ObjectRef, is_accepted, policy_settled, wait_for
from conformance.kube.recipes import compatibility_problems, load_recipes
from conformance.kube.versions import Version
from conformance.local import agentgateway, build
from conformance.local.controlplane import CONTROLLER_PORTS, busy_ports
from conformance.targets.local import REQUIRED
from reference_impl.poll import poll

NAMESPACE = "agw-api-keys"
GATEWAY, ROUTE, POLICY, SECRET = "http", "protected", "api-key", "api-keys"
GATEWAY_API = "gateway.networking.k8s.io/v1"
POLICY_API = "agentgateway.dev/v1alpha1"
# Test keys, shown only by these names.
KEYS = {"raw-key-4fd1a9": "key A", "json-key-8c22e0": "key B", "rotated-key-51b7d3": "key C"}
PORT_WAIT = 300.0  # seconds to wait for another run's controller to give the fixed ports back


@dataclass
class Running:
    api: Any
    controller: agentgateway.Controller
    xdsdump: Path


@pytest.fixture(scope="module")
def running(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    problem = build.go_problem(build.go_minimum())
    if problem:
        if os.environ.get(REQUIRED):
            pytest.fail(f"{problem} ({REQUIRED} is set)", pytrace=False)
        pytest.skip(f"no local agentgateway here: {problem}")
    api_server = request.getfixturevalue("api_server")
    parts = build.components()
    binary, xdsdump = build.binary(parts["agentgateway"]), build.binary(parts["agentgateway-xds"])
    kubernetes = Version.find(api_server.plane.version())
    problems = compatibility_problems(load_recipes(), ("agentgateway",), kubernetes)
    assert kubernetes is not None and not problems, problems
    ports = {**CONTROLLER_PORTS, agentgateway.XDS_PORT: "xDS"}
    # The fixed ports are shared by every kgateway and agentgateway controller on the machine: wait for them.
    poll(lambda: ", ".join(busy_ports(ports)) or None, timeout=PORT_WAIT, what="the controller's ports", interval=2)
    if not api_server.api.namespace_exists(agentgateway.CONTROLLER_NAMESPACE):
        api_server.api.create_namespace(agentgateway.CONTROLLER_NAMESPACE)
    work_dir = tmp_path_factory.mktemp("agentgateway")
    controller = agentgateway.Controller(binary, api_server.plane.kubeconfig, work_dir)
    controller.start()
    try:
        yield Running(api_server.api, controller, xdsdump)
    finally:
        controller.stop()


def _wait(running: Running, ref: ObjectRef, check: Any, timeout: float = 60.0) -> dict[str, Any]:
    wait_for([Expectation(ref, "its status", check)], running.api.get, timeout, alive=running.controller.exited)
    found = running.api.get(ref)
    assert found is not None
    return found


def _secret(entries: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": SECRET, "namespace": NAMESPACE},
        "type": "Opaque",
        "stringData": entries,
    }


def _objects() -> list[dict[str, Any]]:
    meta = {"namespace": NAMESPACE}
    return [
        {
            "apiVersion": GATEWAY_API,
            "kind": "Gateway",
            "metadata": {"name": GATEWAY, **meta},
            "spec": {
                "gatewayClassName": agentgateway.GATEWAY_CLASS,
                "listeners": [{"name": "http", "protocol": "HTTP", "port": 80}],
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "httpbin", **meta},
            "spec": {"ports": [{"name": "http", "port": 8000}], "selector": {"app": "httpbin"}},
        },
        {
            "apiVersion": GATEWAY_API,
            "kind": "HTTPRoute",
            "metadata": {"name": ROUTE, **meta},
            "spec": {
                "parentRefs": [{"name": GATEWAY}],
                "rules": [{"backendRefs": [{"name": "httpbin", "port": 8000}]}],
            },
        },
        _secret(
            {
                "client-a": "raw-key-4fd1a9",  # a raw key, no metadata
                "client-b": json.dumps({"key": "json-key-8c22e0", "metadata": {"group": "sales", "tier": 2}}),
            }
        ),
        {
            "apiVersion": POLICY_API,
            "kind": "AgentgatewayPolicy",
            "metadata": {"name": POLICY, **meta},
            "spec": {
                "targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": ROUTE}],
                "traffic": {"apiKeyAuthentication": {"mode": "Optional", "secretRef": {"name": SECRET}}},
            },
        },
    ]


def _shown(value: Any) -> Any:
    """A copy safe to show: each API key (an `apiKeys` entry's `key`) by its name, or as <unknown key>."""
    if isinstance(value, dict):
        return {k: ([_named(entry) for entry in v] if k == "apiKeys" else _shown(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_shown(item) for item in value]
    return value


def _named(entry: Any) -> Any:
    if isinstance(entry, dict) and "key" in entry:
        return {**entry, "key": KEYS.get(entry["key"], "<unknown key>")}
    return entry


def _api_key_auth(running: Running) -> tuple[str, dict[str, Any]] | str:
    """(resource name, the policy) of our policy's apiKeyAuth in the Gateway's xDS, or what was seen instead."""
    dump = agentgateway.read_xds(running.xdsdump, NAMESPACE, GATEWAY, timeout=20)
    found = {
        name: policy
        for name, policy in agentgateway.policies(dump).items()
        if policy.get("name") == {"kind": "AgentgatewayPolicy", "namespace": NAMESPACE, "name": POLICY}
        and "apiKeyAuth" in (policy.get("traffic") or {})
    }
    if len(found) != 1:
        return f"{len(found)} apiKeyAuth policies of {NAMESPACE}/{POLICY} among {sorted(dump['resources'])}"
    ((name, policy),) = found.items()
    return name, policy


def _wait_for_keys(running: Running, expected: list[dict[str, Any]], timeout: float = 60.0) -> tuple[str, dict]:
    latest: list[tuple[str, dict[str, Any]]] = []

    def probe() -> str | None:
        found = _api_key_auth(running)
        if isinstance(found, str):
            return found
        latest[:] = [found]
        keys = found[1]["traffic"]["apiKeyAuth"].get("apiKeys")
        return None if keys == expected else f"apiKeys {_shown(keys)}"

    poll(probe, timeout=timeout, what="the keys in the xDS", interval=0.5, alive=running.controller.exited)
    return latest[0]


def test_the_policys_keys_reach_the_gateways_proxies_and_follow_the_secret(running: Running) -> None:
    gateway_class = ObjectRef(GATEWAY_API, "GatewayClass", None, agentgateway.GATEWAY_CLASS)
    _wait(running, gateway_class, is_accepted)
    running.api.create_namespace(NAMESPACE)
    for manifest in _objects():
        running.api.apply(manifest)
    _wait(running, ObjectRef(GATEWAY_API, "Gateway", NAMESPACE, GATEWAY), is_accepted)
    policy = _wait(running, ObjectRef(POLICY_API, "AgentgatewayPolicy", NAMESPACE, POLICY), policy_settled)
    (ancestor,) = policy["status"]["ancestors"]
    accepted = next(c for c in ancestor["conditions"] if c["type"] == "Accepted")
    assert (accepted["status"], accepted["reason"]) == ("True", "Valid"), accepted
    assert ancestor["ancestorRef"]["name"] == GATEWAY

    # Both Secret entries, sorted by key (the controller's order); a raw key has empty metadata.
    name, found = _wait_for_keys(
        running,
        [
            {"key": "json-key-8c22e0", "metadata": {"group": "sales", "tier": 2}},
            {"key": "raw-key-4fd1a9", "metadata": {}},
        ],
    )
    auth = found["traffic"]["apiKeyAuth"]
    assert auth["mode"] == "OPTIONAL", _shown(auth)
    assert name == f"policy/traffic/{NAMESPACE}/{POLICY}:apikeyauth:{NAMESPACE}/{ROUTE}"
    assert found["target"] == {"route": {"kind": "HTTPRoute", "namespace": NAMESPACE, "name": ROUTE}}, _shown(found)

    # A new key replaces a revoked one, and the other's metadata changes.
    running.api.apply(
        _secret(
            {
                "client-b": json.dumps({"key": "json-key-8c22e0", "metadata": {"group": "support"}}),
                "client-c": "rotated-key-51b7d3",
            }
        )
    )
    _wait_for_keys(
        running,
        [
            {"key": "json-key-8c22e0", "metadata": {"group": "support"}},
            {"key": "rotated-key-51b7d3", "metadata": {}},
        ],
    )

    running.controller.stop()
    assert running.controller.process is None and running.controller.exited() is None
