"""A real kube-apiserver (with etcd) for these tests, built from its Go module and holding the released CRDs of the
pinned releases: Gateway API (standard), kgateway and agentgateway. Without Go the tests skip with one reason;
APIKEY_CONFORMANCE_REQUIRE_LOCAL=1 (CI) makes that a failure."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
for shared in ("admission", "reference"):  # the catalogues of manifests these tests send to the API server
    sys.path.insert(0, str(HERE.parent / shared))

from conformance.kube.api import KubeApi  # noqa: E402
from conformance.kube.recipes import KubeAccess, load_recipes  # noqa: E402
from conformance.local import agentgateway, build, controlplane, kgateway  # noqa: E402
from conformance.targets.local import REQUIRED  # noqa: E402


@dataclass
class ApiServer:
    plane: controlplane.ControlPlane
    api: KubeApi
    crds: list[dict[str, Any]]


def _unavailable() -> str | None:
    problem = build.go_problem(build.go_minimum())
    if problem and os.environ.get(REQUIRED):
        pytest.fail(f"{problem} ({REQUIRED} is set)", pytrace=False)
    return problem


@pytest.fixture(scope="session")
def api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    problem = _unavailable()
    if problem:
        pytest.skip(f"no real API server here: {problem}")
    parts = build.components()
    plane = controlplane.ControlPlane(
        build.binary(parts["etcd"]), build.binary(parts["kube-apiserver"]), tmp_path_factory.mktemp("api-server")
    )
    plane.start()
    api = KubeApi(KubeAccess(kubeconfig=str(plane.kubeconfig), context="local"), str(plane.work_dir / "cache.json"))
    try:
        files = [
            *kgateway.crd_files(parts["kgateway"].module, load_recipes().gateway_api_version),
            *agentgateway.crd_files(parts["agentgateway"].module),
        ]
        crds = kgateway.install_crds(api, files, timeout=60, alive=plane.problems)
        yield ApiServer(plane, api, crds)
    finally:
        api.close()
        plane.stop()
