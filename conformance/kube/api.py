"""Server-side apply, reads, deletion and namespace creation through the official `kubernetes` client's
DynamicClient, with kinds mapped to API resources by discovery."""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from kubernetes import config, dynamic
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic.exceptions import ResourceNotFoundError

from conformance.kube import FIELD_MANAGER
from conformance.kube.conditions import ObjectRef
from conformance.kube.recipes import KubeAccess
from conformance.kube.stored import string_data_merged

#: Label on the namespaces a target created, so a person can find leftovers of an interrupted run.
MANAGED_BY = {"app.kubernetes.io/managed-by": FIELD_MANAGER}
REDACTED = "<redacted>"


def _secret_values(manifest: Mapping[str, Any]) -> set[str]:
    """Every value a Secret or ConfigMap manifest carries, decoded and encoded, to keep out of messages."""
    if manifest.get("kind") not in ("Secret", "ConfigMap"):
        return set()
    values: set[str] = set()
    for field in ("data", "stringData", "binaryData"):
        entries = manifest.get(field)
        for value in entries.values() if isinstance(entries, Mapping) else ():
            if not isinstance(value, str) or len(value) < 4:
                continue
            values.add(value)
            with contextlib.suppress(binascii.Error, UnicodeDecodeError, ValueError):
                values.add(base64.b64decode(value, validate=True).decode("utf-8"))
            values.add(base64.b64encode(value.encode()).decode())
    return {value for value in values if len(value) >= 4}


def redact(text: str, manifests: Iterable[Mapping[str, Any]]) -> str:
    for value in sorted({v for m in manifests for v in _secret_values(m)}, key=len, reverse=True):
        text = text.replace(value, REDACTED)
    return text


def api_message(error: ApiException) -> str:
    """The API server's own message (the `message` of its Status body), not the whole HTTP dump."""
    body = getattr(error, "body", None)
    if body:
        try:
            message = json.loads(body).get("message")
        except (ValueError, AttributeError):
            message = None
        if message:
            return str(message)
    return f"{error.status} {error.reason}"


class KubeApi:
    """The calls the Kubernetes targets make. Objects come back as plain dicts."""

    def __init__(self, access: KubeAccess, cache_file: str | None = None) -> None:
        self._client = config.new_client_from_config(
            config_file=access.kubeconfig, context=access.context, persist_config=False
        )
        # A cache file of our own: the default one in /tmp is shared and would hide CRDs installed just now.
        self._dynamic = dynamic.DynamicClient(self._client, cache_file=cache_file)

    def _resource(self, api_version: str, kind: str) -> Any:
        try:
            return self._dynamic.resources.get(api_version=api_version, kind=kind)
        except ResourceNotFoundError:
            self._dynamic.resources.invalidate_cache()
        try:
            return self._dynamic.resources.get(api_version=api_version, kind=kind)
        except ResourceNotFoundError:
            raise ValueError(f"the cluster does not serve {kind} in {api_version}; are its CRDs installed?") from None

    def serves(self, api_version: str, kind: str) -> bool:
        try:
            self._resource(api_version, kind)
        except ValueError:
            return False
        return True

    def is_namespaced(self, api_version: str, kind: str) -> bool:
        return bool(self._resource(api_version, kind).namespaced)

    def apply(self, manifest: Mapping[str, Any]) -> None:
        ref = ObjectRef.from_manifest(manifest)
        resource = self._resource(ref.api_version, ref.kind)
        namespace = (ref.namespace or "default") if resource.namespaced else None
        try:
            self._dynamic.server_side_apply(
                resource,
                body=string_data_merged(manifest),
                name=ref.name,
                namespace=namespace,
                field_manager=FIELD_MANAGER,
                force_conflicts=True,
            )
        except ApiException as error:
            label = ObjectRef(ref.api_version, ref.kind, namespace, ref.name).label
            raise ValueError(f"{label} rejected: {redact(api_message(error), [manifest])}") from None

    def dry_run(self, manifest: Mapping[str, Any]) -> str | None:
        """What the API server says of creating the manifest, without storing it: a create with `dryRun=All` and
        `fieldValidation=Strict`, as `kubectl apply --dry-run=server` sends it. None if it would be admitted, else
        its message (Secret values in it redacted). The manifest may be malformed: only apiVersion and kind count."""
        resource = self._resource(str(manifest["apiVersion"]), str(manifest["kind"]))
        metadata = manifest.get("metadata")
        namespace = metadata.get("namespace") if isinstance(metadata, Mapping) else None
        namespace = (
            (namespace if isinstance(namespace, str) and namespace else "default") if resource.namespaced else None
        )
        request = self._client.param_serialize(
            "POST",
            resource.path(namespace=namespace),
            query_params=[("dryRun", "All"), ("fieldValidation", "Strict")],
            header_params={"Content-Type": "application/json", "Accept": "application/json"},
            body=dict(manifest),
            auth_settings=["BearerToken"],
        )
        response = self._client.call_api(*request)
        response.read()
        if 200 <= response.status <= 299:
            return None
        try:
            message = str(json.loads(response.data).get("message") or "")
        except (ValueError, AttributeError):
            message = ""
        return redact(message or f"{response.status} {response.reason}", [manifest])

    def get(self, ref: ObjectRef) -> dict[str, Any] | None:
        resource = self._resource(ref.api_version, ref.kind)
        namespace = (ref.namespace or "default") if resource.namespaced else None
        try:
            found = resource.get(name=ref.name, namespace=namespace)
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        result: dict[str, Any] = found.to_dict()
        return result

    def delete(self, ref: ObjectRef) -> bool:
        """Delete one object; False if it was already gone."""
        try:
            resource = self._resource(ref.api_version, ref.kind)
        except ValueError:
            return False  # its CRD is gone, and with it every object of the kind
        namespace = (ref.namespace or "default") if resource.namespaced else None
        try:
            resource.delete(name=ref.name, namespace=namespace, propagation_policy="Background")
        except ApiException as error:
            if error.status == 404:
                return False
            raise RuntimeError(f"could not delete {ref.label}: {api_message(error)}") from None
        return True

    def namespace_exists(self, name: str) -> bool:
        return self.get(ObjectRef("v1", "Namespace", None, name)) is not None

    def create_namespace(self, name: str) -> None:
        self.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": MANAGED_BY}})

    def close(self) -> None:
        self._client.close()
