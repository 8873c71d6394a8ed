"""The kgateway controller out of cluster, and an Envoy per Gateway fed by the controller's own xDS.

What each setting is for (read in kgateway v2.3.6's source; clusters/versions.yaml names the files):
- KGW_XDS_AUTH=false: the controller would otherwise check every proxy's service-account token with a TokenReview;
- KGW_DISABLE_LEADER_ELECTION=true: one controller, and no Lease to take;
- DISABLE_POD_LOCALITY_XDS=true: it would otherwise look up the Pod named by the Envoy node id, and reset the stream;
- KGW_LISTENER_BIND_IPV6=false: listeners on 0.0.0.0, not [::];
- KGW_GATEWAY_CLASS_PARAMETERS_REFS: the `kgateway` GatewayClass it creates points at a GatewayParameters with
  `selfManaged: {}`, so the deployer renders nothing for a Gateway and the Envoy here stands in for its Deployment.

Each Envoy is started with the bootstrap kgateway's deployer would render (helm/envoy/templates/configmap.yaml):
node metadata `role: kgateway-kube-gateway-api~<namespace>~<gateway>` selects the Gateway's snapshot, and ADS goes
to the controller's xDS port, here without the service-account token (xDS auth is off).
"""

from __future__ import annotations

import json
import logging
import subprocess
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import yaml

from conformance.envoy.admin import AppliedVersions
from conformance.envoy.process import EnvoyProcess
from conformance.kube.conditions import Expectation, ObjectRef, condition_true, wait_for
from conformance.local.build import build_env
from conformance.local.controlplane import CONTROLLER_PORTS, ControllerProcess

log = logging.getLogger("conformance.local")

CONTROLLER_NAMESPACE = "kgateway-system"
SELF_MANAGED = "self-managed"  # the GatewayParameters every Gateway of the class uses
GATEWAY_CLASS = "kgateway"  # the GatewayClass the controller creates and accepts itself
CRD_API, CRD_KIND = "apiextensions.k8s.io/v1", "CustomResourceDefinition"
CRD_READY = condition_true("Established")
# Fixed by kgateway (pkg/kgateway/setup/setup.go, wellknown/ports.go): metrics, health probes, admin, pprof.
FIXED_PORTS = {**CONTROLLER_PORTS, 9099: "pprof"}
ADMIN_PORT = 9095
ROLE_PREFIX = "kgateway-kube-gateway-api"
GATEWAY_API_MODULE = "sigs.k8s.io/gateway-api"
KGATEWAY_MODULE = "github.com/kgateway-dev/kgateway/v2"


def module_dir(module_folder: Path, module: str) -> tuple[Path, str]:
    """(folder, version) of a module the wrapper module requires, downloaded (verified against its go.sum)."""
    completed = subprocess.run(
        ["go", "mod", "download", "-json", module],
        cwd=module_folder,
        env=build_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"go mod download {module} (in {module_folder}) failed: {completed.stderr.strip()[-800:]}")
    info = json.loads(completed.stdout)
    return Path(info["Dir"]), str(info["Version"])


def gateway_api_crd_files(module_folder: Path, gateway_api_version: str) -> list[Path]:
    """Gateway API's standard channel CRDs as released, from the version kgateway's module requires, which must be
    the one clusters/versions.yaml pins (agentgateway runs on the same install)."""
    gateway_api, version = module_dir(module_folder, GATEWAY_API_MODULE)
    if version != gateway_api_version:
        raise RuntimeError(
            f"kgateway requires Gateway API {version}; clusters/versions.yaml pins {gateway_api_version}"
        )
    return sorted((gateway_api / "config" / "crd" / "standard").glob("*.yaml"))


def crd_files(module_folder: Path, gateway_api_version: str) -> Iterator[Path]:
    """The CRDs as released: Gateway API's standard channel and the kgateway-crds chart's templates."""
    yield from gateway_api_crd_files(module_folder, gateway_api_version)
    kgateway, _ = module_dir(module_folder, KGATEWAY_MODULE)
    yield from sorted((kgateway / "install" / "helm" / "kgateway-crds" / "templates").glob("*.yaml"))


def documents(paths: Iterator[Path]) -> list[dict[str, Any]]:
    return [d for path in paths for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def install_crds(
    api: Any, files: Iterable[Path], timeout: float, alive: Callable[[], str | None] | None = None
) -> list[dict[str, Any]]:
    """Apply the documents of `files` as they are, then wait until every CRD among them is Established (one wait
    for all); returns the documents."""
    found = documents(iter(files))
    for document in found:
        api.apply(document)
    established = [
        Expectation(
            ObjectRef(CRD_API, "CustomResourceDefinition", None, d["metadata"]["name"]), "Established", CRD_READY
        )
        for d in found
        if d.get("kind") == "CustomResourceDefinition"
    ]
    wait_for(established, api.get, timeout, poll_interval=0.1, alive=alive)
    return found


def self_managed_parameters() -> dict[str, Any]:
    return {
        "apiVersion": "gateway.kgateway.dev/v1alpha1",
        "kind": "GatewayParameters",
        "metadata": {"name": SELF_MANAGED, "namespace": CONTROLLER_NAMESPACE},
        "spec": {"selfManaged": {}},
    }


@dataclass
class Controller(ControllerProcess):
    """The kgateway controller process."""

    name: ClassVar[str] = "kgateway"
    fixed_ports: ClassVar[dict[int, str]] = FIXED_PORTS

    def settings(self) -> dict[str, str]:
        return {
            "KGW_XDS_AUTH": "false",
            "KGW_DISABLE_LEADER_ELECTION": "true",
            "DISABLE_POD_LOCALITY_XDS": "true",
            "KGW_LISTENER_BIND_IPV6": "false",
            "KGW_XDS_SERVICE_PORT": str(self.xds_port),
            "KGW_LOG_LEVEL": self.log_level,
            "KGW_GATEWAY_CLASS_PARAMETERS_REFS": json.dumps(
                {"kgateway": {"name": SELF_MANAGED, "namespace": CONTROLLER_NAMESPACE}}
            ),
            "POD_NAMESPACE": CONTROLLER_NAMESPACE,
        }


def role(namespace: str, gateway: str) -> str:
    """The node `role` an Envoy of the Gateway announces, which is also the key of its xDS snapshot."""
    return f"{ROLE_PREFIX}~{namespace}~{gateway}"


@dataclass(frozen=True)
class SnapshotVersions:
    """What the controller's xDS snapshot for one Gateway holds, without its content: the version of each resource
    type it has, and the names of its resources."""

    versions: frozenset[str]
    names: frozenset[str]


def snapshot_versions(namespace: str, gateway: str) -> SnapshotVersions | None:
    """The controller's xDS snapshot for the Gateway's Envoys (its admin's /snapshots/xds), None while it holds
    none. The snapshot carries every API key the Gateway's routes hold: only versions and resource names are read
    from it, nothing of it is kept, logged or shown."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{ADMIN_PORT}/snapshots/xds", timeout=5) as response:
            body = json.load(response)
    except (OSError, ValueError):
        return None
    snapshot = (body.get("data") or {}).get(role(namespace, gateway)) if isinstance(body, dict) else None
    if not isinstance(snapshot, dict):
        return None
    kinds = [r for r in snapshot.get("Resources") or [] if isinstance(r, dict) and r.get("Items")]
    return SnapshotVersions(
        frozenset(str(r["Version"]) for r in kinds),
        frozenset(str(name) for r in kinds if isinstance(r["Items"], dict) for name in r["Items"]),
    )


def stale_versions(held: AppliedVersions, wanted: SnapshotVersions) -> set[str]:
    """The versions an Envoy accepted last (Admin.accepted_versions) that are not the controller's: of its listeners,
    its clusters and each route configuration the snapshot still has. A route configuration the snapshot dropped is
    left out: Envoy keeps its subscription while a removed listener that used it drains (minutes), and no update
    will ever change its version."""
    routes = [version for name, version in held.routes.items() if name in wanted.names]
    return {v for v in (held.lds, held.cds, *routes) if v} - wanted.versions


def envoy_bootstrap(namespace: str, gateway: str, xds_port: int) -> dict[str, Any]:
    """The bootstrap kgateway's deployer renders for a Gateway, pointed at the controller on this machine."""
    return {
        "node": {
            "id": f"{gateway}.{namespace}",
            "cluster": f"{gateway}.{namespace}",
            "metadata": {"role": role(namespace, gateway)},
        },
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}}},
        "layered_runtime": {
            "layers": [
                {"name": "static_layer", "static_layer": {"envoy.restart_features.use_eds_cache_for_ads": True}},
                {"name": "admin_layer", "admin_layer": {}},
            ]
        },
        "static_resources": {
            "clusters": [
                {
                    "name": "xds_cluster",
                    "alt_stat_name": "xds_cluster",
                    "connect_timeout": "5s",
                    "type": "STATIC",
                    "load_assignment": {
                        "cluster_name": "xds_cluster",
                        "endpoints": [
                            {
                                "lb_endpoints": [
                                    {
                                        "endpoint": {
                                            "address": {
                                                "socket_address": {"address": "127.0.0.1", "port_value": xds_port}
                                            }
                                        }
                                    }
                                ]
                            }
                        ],
                    },
                    "typed_extension_protocol_options": {
                        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                            "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                            "explicit_http_config": {"http2_protocol_options": {}},
                        }
                    },
                    "upstream_connection_options": {"tcp_keepalive": {"keepalive_time": 10}},
                }
            ]
        },
        "dynamic_resources": {
            "ads_config": {
                "transport_api_version": "V3",
                "api_type": "GRPC",
                "rate_limit_settings": {},
                "grpc_services": [{"envoy_grpc": {"cluster_name": "xds_cluster"}}],
            },
            "cds_config": {"resource_api_version": "V3", "initial_fetch_timeout": "0s", "ads": {}},
            "lds_config": {"resource_api_version": "V3", "initial_fetch_timeout": "0s", "ads": {}},
        },
    }


def gateway_envoy(binary: str, work_dir: Path, namespace: str, gateway: str, xds_port: int) -> EnvoyProcess:
    folder = work_dir / f"envoy-{namespace}-{gateway}"
    folder.mkdir(parents=True, exist_ok=True)
    return EnvoyProcess(binary, folder, envoy_bootstrap(namespace, gateway, xds_port), "warn")
