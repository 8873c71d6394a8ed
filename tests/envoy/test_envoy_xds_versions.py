"""xDS file versions: Envoy must end up reporting the version of the content it holds, however fast files change.

Envoy reads a watched file when it handles the move event, and LDS / CDS / RDS keep their previous
`version_info` when an update changes nothing. With a write counter as version, writing A, B, then A again
before Envoy reads left it on A with A's old version, and the target waited for a version that never came
("Envoy did not apply the configuration within 30.0s: CDS version 131, want 138").
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

from envoy_manifests import BASE, GATEWAY_POLICY, GUIDE_SECRET, docs

from conformance.envoy.xds import CDS_FILE, XdsFiles, content_version
from conformance.targets.base import TargetError
from conformance.targets.envoy import EnvoyTarget


def test_the_same_resources_always_get_the_same_version_and_a_change_a_new_one(tmp_path: Path) -> None:
    files = XdsFiles(tmp_path)
    cluster = [{"name": "a", "connect_timeout": "1s"}]
    assert content_version(cluster) == content_version([{"connect_timeout": "1s", "name": "a"}])
    assert content_version(cluster) != content_version([{"name": "b", "connect_timeout": "1s"}])
    files._put(CDS_FILE, cluster)
    first = json.loads((tmp_path / CDS_FILE).read_text())["version_info"]
    files._put(CDS_FILE, [])
    files._put(CDS_FILE, cluster)
    assert json.loads((tmp_path / CDS_FILE).read_text())["version_info"] == first == files.version(CDS_FILE)


def test_envoy_reading_only_the_last_of_several_quick_writes_is_still_applied(envoy: EnvoyTarget) -> None:
    manifests = docs(BASE, GUIDE_SECRET, GATEWAY_POLICY)
    envoy.apply(manifests)
    envoy.wait_applied(manifests, timeout=10)
    assert envoy.pid is not None
    # A frozen Envoy handles the queued move events only after every write: it reads the final content
    # (identical to what it holds) for each of them, as a slow machine does between reset() and apply().
    os.kill(envoy.pid, signal.SIGSTOP)
    try:
        envoy.reset()
        envoy.apply(manifests)
        time.sleep(0.2)
    finally:
        os.kill(envoy.pid, signal.SIGCONT)
    envoy.wait_applied(manifests, timeout=10)


def test_a_target_that_cannot_apply_configuration_raises_a_target_error(envoy: EnvoyTarget) -> None:
    manifests = docs(BASE, GUIDE_SECRET, GATEWAY_POLICY)
    assert envoy.pid is not None
    os.kill(envoy.pid, signal.SIGSTOP)  # Envoy cannot read anything while stopped
    try:
        envoy.apply(manifests)
        try:
            envoy.wait_applied(manifests, timeout=1)
        except TargetError as error:
            assert "Envoy did not apply the configuration within 1.0s" in str(error)
        else:
            raise AssertionError("wait_applied returned although Envoy was stopped")
    finally:
        os.kill(envoy.pid, signal.SIGCONT)
    envoy.wait_applied(manifests, timeout=10)
