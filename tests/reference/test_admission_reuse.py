"""Admission costs milliseconds per new custom resource (CEL rules): the store's apply path and the folder reload
must not admit an unchanged one again. Secrets and ConfigMaps are admitted in one cheap linear pass each time:
remembering them would cost more than admitting them (a 100,000-entry Secret)."""

from __future__ import annotations

import pytest
import yaml
from refsupport import gateway, route, secret, target, traffic_policy

import reference_impl.admission as admission
from reference_impl.folder import ManifestFolder
from reference_impl.store import Store


@pytest.fixture
def admitted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the manifests actually admitted (not recalled), in order."""
    calls: list[str] = []
    real = admission._admit

    def counting(document, release):
        calls.append(document["metadata"]["name"])
        return real(document, release)

    monkeypatch.setattr(admission, "_admit", counting)
    monkeypatch.setattr(admission, "_RECENT", type(admission._RECENT)())  # nothing remembered from other tests
    return calls


DOCUMENTS = [
    gateway("reuse-gw"),
    route("reuse-route", parent="reuse-gw"),
    secret("reuse-keys", a="reuse-key-1"),
    traffic_policy("reuse-policy", targets=[target("Gateway", "reuse-gw")], secretRef={"name": "reuse-keys"}),
]


def test_the_store_admits_an_unchanged_manifest_once(admitted):
    store = Store()
    text = yaml.safe_dump_all(DOCUMENTS)
    store.apply(text)
    assert admitted == ["reuse-gw", "reuse-route", "reuse-keys", "reuse-policy"]
    store.apply(text)
    assert admitted[4:] == ["reuse-keys"]  # the custom resources recalled, not admitted again
    store.apply(text.replace("reuse-key-1", "reuse-key-2"))  # a rotated Secret
    assert admitted[5:] == ["reuse-keys"]


def test_the_folder_reload_admits_only_changed_files(admitted, tmp_path):
    for document in DOCUMENTS:
        (tmp_path / f"{document['metadata']['name']}.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")
    folder = ManifestFolder(tmp_path, Store())
    assert folder.sync() and not folder.errors
    assert sorted(admitted) == ["reuse-gw", "reuse-keys", "reuse-policy", "reuse-route"]
    assert not folder.sync()
    assert len(admitted) == 4
    rotated = secret("reuse-keys", a="reuse-key-3")
    (tmp_path / "reuse-keys.yaml").write_text(yaml.safe_dump(rotated), encoding="utf-8")
    assert folder.sync()
    assert admitted[4:] == ["reuse-keys"]
