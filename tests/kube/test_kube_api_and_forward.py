"""Server-side apply through the DynamicClient (field manager, force, discovery refresh, redaction), and the
port-forward process handling, with a real child process standing in for kubectl."""

from __future__ import annotations

import base64
import json
import sys
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic.exceptions import ResourceNotFoundError

from conformance.kube.api import KubeApi, api_message, redact
from conformance.kube.conditions import ObjectRef
from conformance.kube.portforward import PortForward
from conformance.kube.stored import string_data_merged


class FakeResource:
    def __init__(self, namespaced: bool = True, status: int | None = None) -> None:
        self.namespaced = namespaced
        self.status = status
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def get(self, **kwargs: Any) -> Any:
        self.calls.append(("get", kwargs))
        if self.status:
            raise ApiException(status=self.status, reason="Not Found")
        return type("Found", (), {"to_dict": lambda self: {"metadata": {"name": kwargs["name"]}}})()

    def delete(self, **kwargs: Any) -> None:
        self.calls.append(("delete", kwargs))
        if self.status:
            raise ApiException(status=self.status, reason="Not Found")


class FakeResources:
    def __init__(self, resource: FakeResource, misses: int = 0) -> None:
        self.resource, self.misses, self.invalidated = resource, misses, 0

    def get(self, api_version: str, kind: str) -> FakeResource:
        if self.misses:
            self.misses -= 1
            raise ResourceNotFoundError(f"No matches found for {{'api_version': '{api_version}', 'kind': '{kind}'}}")
        return self.resource

    def invalidate_cache(self) -> None:
        self.invalidated += 1


class FakeDynamic:
    def __init__(self, resource: FakeResource, misses: int = 0, error: ApiException | None = None) -> None:
        self.resources = FakeResources(resource, misses)
        self.error = error
        self.applied: list[dict[str, Any]] = []

    def server_side_apply(self, resource: FakeResource, **kwargs: Any) -> None:
        if self.error:
            raise self.error
        self.applied.append(kwargs)


def api_with(dynamic: FakeDynamic) -> KubeApi:
    api = KubeApi.__new__(KubeApi)  # skip kubeconfig loading: the client is replaced by the fake
    api._dynamic = dynamic
    return api


SECRET = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"name": "keys"},
    "stringData": {"alice": "N2YwMDc3OTAtYWQ3"},
    "data": {"bob": "c2VjcmV0LWJvYi1rZXk="},  # secret-bob-key
}


def test_server_side_apply_with_our_field_manager_forcing_conflicts() -> None:
    dynamic = FakeDynamic(FakeResource())
    api_with(dynamic).apply(SECRET)
    [call] = dynamic.applied
    assert call == {
        "body": string_data_merged(SECRET),
        "name": "keys",
        "namespace": "default",
        "field_manager": "apikey-conformance",
        "force_conflicts": True,
    }


def test_a_secret_is_applied_as_stored_so_an_entry_left_out_is_removed() -> None:
    """Applied as `stringData`, an entry a later apply leaves out would stay in `data` (the API server merges
    `stringData` into `data`, and server-side apply owns only `stringData`)."""
    merged = string_data_merged({**SECRET, "data": {"old": "b2xk"}})
    assert "stringData" not in merged
    assert merged["data"] == {
        "old": "b2xk",
        **{k: base64.b64encode(v.encode()).decode() for k, v in SECRET["stringData"].items()},
    }
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "stringData": {"a": "b"}}
    assert string_data_merged(config_map) == config_map


def test_cluster_scoped_kinds_get_no_namespace() -> None:
    dynamic = FakeDynamic(FakeResource(namespaced=False))
    api_with(dynamic).apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-keys"}})
    assert dynamic.applied[0]["namespace"] is None


def test_discovery_is_refreshed_once_for_a_kind_installed_later() -> None:
    dynamic = FakeDynamic(FakeResource(), misses=1)
    api_with(dynamic).apply(SECRET)
    assert dynamic.resources.invalidated == 1 and dynamic.applied
    missing = FakeDynamic(FakeResource(), misses=2)
    with pytest.raises(
        ValueError, match=r"does not serve TrafficPolicy in gateway.kgateway.dev/v1alpha1; are its CRDs"
    ):
        api_with(missing).apply(
            {"apiVersion": "gateway.kgateway.dev/v1alpha1", "kind": "TrafficPolicy", "metadata": {"name": "p"}}
        )


def test_a_rejection_carries_the_api_message_without_any_key() -> None:
    body = json.dumps(
        {"kind": "Status", "message": 'Secret "keys" is invalid: data[bob]: value secret-bob-key and N2YwMDc3OTAtYWQ3'}
    )
    error = ApiException(status=422, reason="Unprocessable Entity")
    error.body = body
    with pytest.raises(ValueError) as raised:
        api_with(FakeDynamic(FakeResource(), error=error)).apply(SECRET)
    assert str(raised.value) == (
        'Secret default/keys rejected: Secret "keys" is invalid: data[bob]: value <redacted> and <redacted>'
    )


def test_api_message_falls_back_to_the_status_line() -> None:
    assert api_message(ApiException(status=403, reason="Forbidden")) == "403 Forbidden"


def test_redact_covers_encoded_forms_and_leaves_other_kinds_alone() -> None:
    assert redact("c2VjcmV0LWJvYi1rZXk= / secret-bob-key", [SECRET]) == "<redacted> / <redacted>"
    route = {"kind": "HTTPRoute", "data": {"x": "secret-bob-key"}}
    assert redact("secret-bob-key", [route]) == "secret-bob-key"


def test_get_and_delete_treat_404_as_absent() -> None:
    gone = api_with(FakeDynamic(FakeResource(status=404)))
    ref = ObjectRef("v1", "Secret", "kgateway-system", "keys")
    assert gone.get(ref) is None
    assert gone.delete(ref) is False
    present = FakeResource()
    api = api_with(FakeDynamic(present))
    assert api.get(ref) == {"metadata": {"name": "keys"}}
    assert api.delete(ref) is True
    assert present.calls[-1] == (
        "delete",
        {"name": "keys", "namespace": "kgateway-system", "propagation_policy": "Background"},
    )


def test_delete_reports_other_failures() -> None:
    api = api_with(FakeDynamic(FakeResource(status=403)))
    with pytest.raises(RuntimeError, match=r"could not delete Secret kgateway-system/keys: 403 Not Found"):
        api.delete(ObjectRef("v1", "Secret", "kgateway-system", "keys"))


def _fake_kubectl(script: str) -> list[str]:
    return [sys.executable, "-u", "-c", script]


def test_port_forward_reads_the_port_kubectl_picked_and_stops_it() -> None:
    forward = PortForward(
        _fake_kubectl(
            "import time\n"
            "print('Forwarding from 127.0.0.1:43123 -> 8080')\n"
            "print('Forwarding from [::1]:43123 -> 8080')\n"
            "for _ in range(20000): print('Handling connection for 43123')\n"  # more than a pipe holds
            "time.sleep(60)\n"
        )
    )
    with forward:
        assert forward.local_port == 43123
        assert forward.alive()
    assert not forward.alive()


def test_port_forward_that_exits_says_why() -> None:
    forward = PortForward(_fake_kubectl("print('error: services \"http\" not found'); raise SystemExit(1)"))
    with pytest.raises(RuntimeError, match=r'exited: error: services "http" not found'):
        forward.start()


def test_port_forward_that_never_prints_a_port_times_out() -> None:
    forward = PortForward(_fake_kubectl("import time; time.sleep(60)"), start_timeout=0.3)
    with pytest.raises(RuntimeError, match=r"printed no forwarding port within 0.3 s"):
        forward.start()
    assert not forward.alive()
