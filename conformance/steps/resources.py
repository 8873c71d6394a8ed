"""Steps that create, change and delete resources on the target."""

from __future__ import annotations

from typing import Any

from pytest_bdd import given, parsers, when

from conformance.steps.context import ScenarioContext
from reference_impl.errors import ManifestError
from reference_impl.resources import decode_documents


def _documents(docstring: str) -> list[dict[str, Any]]:
    try:
        documents = decode_documents(docstring, source="the scenario's YAML")  # as the gateway's loader reads it
    except ManifestError as error:
        raise AssertionError(str(error)) from None
    for document in documents:
        if not isinstance(document, dict) or "kind" not in document:
            raise AssertionError("every YAML document in a scenario must be a Kubernetes object with a kind")
    return documents


@given(parsers.parse('the gateway routes "{host}" to httpbin'))
def gateway_routes_host(scenario_context: ScenarioContext, host: str) -> None:
    scenario_context.apply(scenario_context.profile.base_manifests(host))


@given("the following resources are applied:")
@when("the following resources are applied:")
def resources_applied(scenario_context: ScenarioContext, docstring: str) -> None:
    scenario_context.apply(_documents(docstring))


@when("the following resources are deleted:")
def resources_deleted(scenario_context: ScenarioContext, docstring: str) -> None:
    scenario_context.delete(_documents(docstring))


@when(parsers.parse('the {kind} "{namespace}/{name}" is deleted'))
def resource_deleted(scenario_context: ScenarioContext, kind: str, namespace: str, name: str) -> None:
    api_version = {"Secret": "v1", "ConfigMap": "v1"}.get(kind, "")
    scenario_context.delete(
        [{"apiVersion": api_version, "kind": kind, "metadata": {"namespace": namespace, "name": name}}]
    )
