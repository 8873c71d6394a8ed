from __future__ import annotations

from collections.abc import Iterator

import pytest

from conformance.targets.envoy import EnvoyTarget


@pytest.fixture(scope="module")
def envoy_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EnvoyTarget]:
    options = {"work_dir": str(tmp_path_factory.mktemp("envoy"))}
    reason = EnvoyTarget.unavailable_reason(options)
    if reason:
        pytest.skip(reason)
    target = EnvoyTarget(options)
    target.start()
    try:
        yield target
    finally:
        target.close()


@pytest.fixture
def envoy(envoy_target: EnvoyTarget) -> Iterator[EnvoyTarget]:
    envoy_target.reset()
    yield envoy_target
    envoy_target.reset()
