"""The watched folder: no file, however broken, stops the watcher; a failing watcher restarts and says so."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from refsupport import decide, gateway, route, secret, target, traffic_policy

from reference_impl.compile.snapshot import BackendMap
from reference_impl.folder import ManifestFolder
from reference_impl.store import Store

OLD, NEW = "old-key-0123456789abcdef", "new-key-0123456789abcdef"


def write(folder: Path, name: str, documents: list[dict] | str) -> None:
    text = documents if isinstance(documents, str) else yaml.safe_dump_all(documents)
    (folder / name).write_bytes(text.encode("utf-8") if isinstance(text, str) else text)


def base_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "manifests"
    folder.mkdir()
    write(
        folder,
        "gateway.yaml",
        [
            gateway(),
            route(),
            traffic_policy(targets=[target("Gateway", "gw")], secretRef={"name": "keys"}),
        ],
    )
    write(folder, "keys.yaml", [secret("keys", client=OLD)])
    return folder


def key_works(store: Store, key: str) -> bool:
    return getattr(decide(store, ("api-key", key)), "client", None) == "client"


BROKEN_FILES: dict[str, str | bytes] = {
    "list-of-a-number.yaml": "apiVersion: v1\nkind: List\nitems: 5\n",
    "list-of-null.yaml": "apiVersion: v1\nkind: List\nitems: null\n",
    "list-of-scalars.yaml": "apiVersion: v1\nkind: List\nitems: [1, two]\n",
    "deep.yaml": "a: " + "[" * 2000 + "]" * 2000 + "\n",
    "deep-mapping.yaml": "".join("  " * i + f"k{i}:\n" for i in range(200)) + "  " * 200 + "v\n",
    "binary.yaml": b"\x00\xff\xfe binary \x89PNG\r\n",
    "trailing-comma.json": '{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "j"},}',
    "not-yaml.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: apikey\n",
    "scalar.yaml": "just a string\n",
    "non-latin-1-header.yaml": yaml.safe_dump(
        traffic_policy("exotic", secretRef={"name": "keys"}, keySources=[{"header": "käy€"}], clientIdHeader="x\r\ny")
    ),
}


def wait_until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)


@pytest.mark.parametrize("name", sorted(BROKEN_FILES))
def test_no_broken_file_stops_the_watcher(tmp_path, name):
    folder = base_folder(tmp_path)
    store = Store(BackendMap({"svc": "http://127.0.0.1:9"}))
    watched = ManifestFolder(folder, store)
    watched.sync()
    assert key_works(store, OLD)

    async def scenario() -> None:
        stop = asyncio.Event()
        watcher = asyncio.create_task(watched.watch(stop))
        await asyncio.sleep(0.2)
        content = BROKEN_FILES[name]
        (folder / name).write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
        await asyncio.to_thread(wait_until, lambda: (folder / name) in watched.errors or name.startswith("non-latin"))
        write(folder, "keys.yaml", [secret("keys", client=NEW)])  # a rotation after the broken file
        await asyncio.to_thread(wait_until, lambda: key_works(store, NEW) and not key_works(store, OLD))
        stop.set()
        await watcher

    asyncio.run(scenario())
    health = watched.health()
    assert not health.fatal
    if name.startswith("non-latin"):  # admitted, but its header names cannot be used: the policy fails closed
        condition = store.status("TrafficPolicy", "default", "exotic")
        assert (condition.status, condition.reason) == ("False", "Invalid")
    else:
        assert any(name in line and "not loaded" in line for line in health.degraded)


def test_a_broken_edit_keeps_the_last_good_version_and_says_so(tmp_path):
    folder = base_folder(tmp_path)
    store = Store(BackendMap({"svc": "http://127.0.0.1:9"}))
    watched = ManifestFolder(folder, store)
    assert watched.sync()
    generation = store.snapshot.generation
    write(folder, "keys.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: keys\n")
    assert watched.sync() is False  # nothing changed in the store: no reload is reported
    assert store.snapshot.generation == generation
    assert key_works(store, OLD)
    (line,) = watched.health().degraded
    assert "keys.yaml" in line and "not valid YAML at line 4" in line and "serving its last good version" in line
    write(folder, "keys.yaml", [secret("keys", client=NEW)])
    assert watched.sync()
    assert key_works(store, NEW) and not watched.health().degraded


def test_a_failing_watcher_restarts_and_reports_it_meanwhile(tmp_path, monkeypatch):
    import watchfiles

    folder = base_folder(tmp_path)
    store = Store(BackendMap({"svc": "http://127.0.0.1:9"}))
    watched = ManifestFolder(folder, store)
    watched.sync()
    real_awatch = watchfiles.awatch
    calls = {"n": 0}
    seen_fatal: list[tuple[str, ...]] = []

    def flaky_awatch(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError(28, "inotify watch limit reached")
        return real_awatch(*args, **kwargs)

    monkeypatch.setattr(watchfiles, "awatch", flaky_awatch)
    monkeypatch.setattr("reference_impl.folder.RETRY_SECONDS", (0.3,))

    async def scenario() -> None:
        stop = asyncio.Event()
        watcher = asyncio.create_task(watched.watch(stop))
        await asyncio.sleep(0.1)
        seen_fatal.append(watched.health().fatal)
        write(folder, "keys.yaml", [secret("keys", client=NEW)])  # changed while nothing watched
        await asyncio.to_thread(wait_until, lambda: key_works(store, NEW))
        await asyncio.sleep(0.5)
        write(folder, "keys.yaml", [secret("keys", client=OLD)])  # and followed again afterwards
        await asyncio.to_thread(wait_until, lambda: key_works(store, OLD))
        stop.set()
        await watcher

    asyncio.run(scenario())
    assert seen_fatal[0] and "inotify watch limit reached" in seen_fatal[0][0]
    assert calls["n"] >= 2
    assert not watched.health().fatal  # recovered
