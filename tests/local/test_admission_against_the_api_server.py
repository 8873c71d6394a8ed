"""The admission emulation (reference_impl/admission, what `apikey-gateway validate` and `serve` use) against a real
kube-apiserver holding the released CRDs: every manifest the repository ships and every manifest of the bad-manifest
catalogue is sent to both (the API server by a server-side dry run). They must agree: admitted or refused, and with
the same message."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from bad_manifests import REJECTED
from manifests import repository_manifests

from reference_impl.admission import PINNED, AdmissionError, admit

# Kinds the emulation leaves to the API server (installed by the cluster recipes, or read by a tool, not a server).
OUT_OF_SCOPE = {
    ("apps/v1", "Deployment"),
    ("v1", "Pod"),
    ("v1", "Service"),
    ("v1", "ServiceAccount"),
    ("kind.x-k8s.io/v1alpha4", "Cluster"),
}
RFC1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
REPOSITORY = [m for m in repository_manifests() if (m.document["apiVersion"], m.document["kind"]) not in OUT_OF_SCOPE]


def _documents(content: str | bytes) -> list[dict[str, Any]]:
    """The manifests of a catalogue file that reach an API server at all (a file that does not decode, or a
    document without apiVersion and kind, is refused before that, by the tool that reads it)."""
    try:
        text = content.decode("utf-8") if isinstance(content, bytes) else content
        found = list(yaml.safe_load_all(text))
    except (UnicodeDecodeError, yaml.YAMLError, RecursionError):
        return []
    documents = []
    for document in found:
        items = document.get("items") if isinstance(document, dict) and document.get("kind") == "List" else [document]
        for item in items if isinstance(items, list) else []:
            if _named_object(item):
                documents.append(item)
    return documents


def _named_object(item: Any) -> bool:
    if not (isinstance(item, dict) and isinstance(item.get("apiVersion"), str) and item.get("kind")):
        return False
    name = (item.get("metadata") or {}).get("name") if isinstance(item.get("metadata"), dict | None) else None
    return isinstance(name, str) and bool(name)


BAD = [
    pytest.param(document, id=f"{case}/{document['kind']}")
    for case, (_, content) in REJECTED.items()
    for document in _documents(content)
    if (document["apiVersion"], document["kind"]) not in OUT_OF_SCOPE
]


def emulated(document: dict[str, Any]) -> str | None:
    try:
        admit(document, release=PINNED)
    except AdmissionError as error:
        return str(error)
    return None


def _namespace(api_server, document: dict[str, Any]) -> None:
    namespace = (document.get("metadata") or {}).get("namespace") or "default"
    if (
        isinstance(namespace, str)
        and RFC1123_LABEL.fullmatch(namespace)
        and not api_server.api.namespace_exists(namespace)
    ):
        api_server.api.create_namespace(namespace)


def agree(api_server, document: dict[str, Any]) -> None:
    ours = emulated(document)
    api_version, kind = document["apiVersion"], document["kind"]
    if not api_server.api.serves(api_version, kind):
        # kubectl refuses before sending anything, with its REST mapper's words.
        assert ours is not None and f'no matches for kind "{kind}" in version "{api_version}"' in ours
        return
    _namespace(api_server, document)
    real = api_server.api.dry_run(document)
    assert ours == real, f"the API server says {real!r}; the emulation says {ours!r}"


@pytest.mark.parametrize("manifest", REPOSITORY, ids=[m.label for m in REPOSITORY])
def test_the_repository_manifests_are_admitted_as_the_api_server_admits_them(api_server, manifest):
    agree(api_server, manifest.document)


@pytest.mark.parametrize("document", BAD)
def test_the_bad_manifests_are_refused_with_the_api_servers_words(api_server, document):
    agree(api_server, document)


def test_the_catalogues_reach_the_api_server(api_server):
    assert len(REPOSITORY) >= 100 and len(BAD) >= 40


def _secret(**fields: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "keys"}, **fields}


def _policy(metadata: dict[str, Any], spec: Any) -> dict[str, Any]:
    return {"apiVersion": "gateway.kgateway.dev/v1alpha1", "kind": "TrafficPolicy", "metadata": metadata, "spec": spec}


# Rules of the core kinds and of decoding that the file catalogue does not reach.
CORE_RULES = {
    "tls-without-key": _secret(type="kubernetes.io/tls", stringData={"tls.crt": "x"}),
    "basic-auth-token-only": _secret(type="kubernetes.io/basic-auth", stringData={"token": "x"}),
    "secret-over-1MiB": _secret(stringData={f"k{i}": "x" * 300_000 for i in range(4)}),
    "secret-bad-data-entry-name": _secret(data={"bad key!": "eA=="}),
    "secret-name-number": {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": 3}},
    "secret-generate-name": {"apiVersion": "v1", "kind": "Secret", "metadata": {"generateName": "keys-"}},
    "configmap-duplicate-key": {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cm"},
        "data": {"a": "1"},
        "binaryData": {"a": "MQ=="},
    },
    "policy-name-number": _policy({"name": 3}, {}),
    "policy-namespace-number": _policy({"name": "p", "namespace": 3}, {}),
    "policy-target-refs-number": _policy({"name": "p"}, {"targetRefs": 3}),
}


@pytest.mark.parametrize("document", CORE_RULES.values(), ids=CORE_RULES)
def test_core_rules_and_decoding_are_worded_as_the_api_server_words_them(api_server, document):
    agree(api_server, document)
