"""The catalog of bad manifests (bad_manifests.py) through the watched folder: each gets its exact error, the folder
keeps serving its last good configuration or refuses what cannot be applied, and none stops the watcher."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
import yaml
from bad_manifests import AGW_KEY, BASE, FAIL_CLOSED, KEY, REJECTED, secret
from refsupport import decide

from reference_impl.auth.decision import Allow, Deny
from reference_impl.compile.snapshot import BackendMap
from reference_impl.folder import ManifestFolder
from reference_impl.store import Store

EXPECTED = yaml.safe_load((Path(__file__).parent / "bad_manifests.expected.yaml").read_text(encoding="utf-8"))
REJECTED_MESSAGES: dict[str, str] = EXPECTED["rejected"]
FAIL_CLOSED_OUTCOMES: dict[str, dict] = EXPECTED["fail_closed"]


def served(tmp_path: Path) -> tuple[Path, Store, ManifestFolder]:
    folder = tmp_path / "manifests"
    folder.mkdir()
    for name, text in BASE.items():
        (folder / name).write_text(text, encoding="utf-8")
    store = Store(BackendMap({"svc": "http://127.0.0.1:9"}))
    watched = ManifestFolder(folder, store)
    watched.sync()
    assert not watched.errors
    return folder, store, watched


def request(store: Store, host: str, key: str | None) -> Allow | Deny:
    if host == "agw":
        return decide(store, *([("authorization", f"Bearer {key}")] if key else []), host="agw.test", port=80)
    return decide(store, *([("api-key", key)] if key else []), host=f"{host}.test", path="/a/b")


def assert_base_configuration_serves(store: Store) -> None:
    assert request(store, "guarded", KEY).client == "client"
    assert request(store, "guarded", None).status == 401
    assert request(store, "guarded", "some-other-key-0123456789").status == 401
    assert request(store, "agw", AGW_KEY).client == "client"
    assert request(store, "agw", None).status == 401
    assert isinstance(request(store, "open", None), Allow)


def write(path: Path, content: str | bytes) -> None:
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))


def test_the_catalog_is_complete():
    assert set(REJECTED_MESSAGES) == set(REJECTED) and set(FAIL_CLOSED_OUTCOMES) == set(FAIL_CLOSED)
    assert len(REJECTED) + len(FAIL_CLOSED) >= 60


@pytest.mark.parametrize("case", sorted(REJECTED))
def test_a_rejected_file_gets_its_exact_error_and_the_last_good_configuration_keeps_serving(tmp_path, case):
    folder, store, watched = served(tmp_path)
    name, content = REJECTED[case]
    path = folder / name
    replaced = path.exists()
    write(path, content)
    watched.sync()  # never raises
    assert watched.errors[path].replace(f"{folder}/", "") == REJECTED_MESSAGES[case]
    assert KEY not in watched.errors[path] and AGW_KEY not in watched.errors[path]
    assert_base_configuration_serves(store)
    (line,) = watched.health().degraded
    assert name in line and ("serving its last good version" if replaced else "not loaded") in line
    assert not watched.health().fatal


@pytest.mark.parametrize("case", sorted(FAIL_CLOSED))
def test_an_admitted_manifest_that_cannot_be_applied_fails_closed(tmp_path, case):
    folder, store, watched = served(tmp_path)
    name, content, (kind, resource), host = FAIL_CLOSED[case]
    write(folder / name, content)
    watched.sync()
    assert not watched.errors  # admitted: the API server would have taken it
    condition, status = FAIL_CLOSED_OUTCOMES[case]["condition"], FAIL_CLOSED_OUTCOMES[case]["status"]
    if kind == "HTTPRoute":
        found = [[c.type, c.status, c.reason, c.message] for c in store.snapshot.route_status[("default", resource)]]
        assert found == condition
    else:
        accepted = store.status(kind, "default", resource)
        assert [accepted.status, accepted.reason, accepted.message] == condition
    key = AGW_KEY if host == "agw" else KEY
    for presented in (key, None):  # refused with or without the key: never served open
        decision = request(store, host, presented)
        assert isinstance(decision, Deny) and decision.status == status, (presented, decision)
    if host != "open":
        assert isinstance(request(store, "open", None), Allow)  # and only its own routes are affected


def test_no_file_of_the_catalog_stops_the_watcher(tmp_path):
    """The real watch loop through every rejected file in turn; a key rotation at the end still takes effect."""
    folder, store, watched = served(tmp_path)
    new_key = "catalog-rotated-key-0123456789"

    def wait_until(check, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            assert time.monotonic() < deadline, "the watcher stopped following the folder"
            time.sleep(0.01)

    async def scenario() -> None:
        stop = asyncio.Event()
        watcher = asyncio.create_task(watched.watch(stop))
        await asyncio.sleep(0.2)
        for case in sorted(REJECTED):
            name, content = REJECTED[case]
            path = folder / name
            original = path.read_bytes() if path.exists() else None
            write(path, content)
            await asyncio.to_thread(wait_until, lambda path=path: path in watched.errors)
            if original is None:
                path.unlink()
            else:
                path.write_bytes(original)
            await asyncio.to_thread(wait_until, lambda path=path: path not in watched.errors)
        write(folder / "keys.yaml", secret(f"stringData: {{client: {new_key}}}"))
        await asyncio.to_thread(wait_until, lambda: getattr(request(store, "guarded", new_key), "client", None))
        stop.set()
        await watcher

    asyncio.run(scenario())
    assert request(store, "guarded", KEY).status == 401
    assert not watched.health().fatal and not watched.health().degraded
