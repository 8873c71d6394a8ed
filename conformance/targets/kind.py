"""The `kind` target: a kind cluster made with pytest-kind's KindCluster, with Gateway API, kgateway or
agentgateway, httpbin and the profile Gateway installed from `clusters/`.

kind, kubectl and helm come from PATH and are passed to KindCluster explicitly, so nothing is downloaded.
Listeners are reached through `kubectl port-forward` to the Gateway's Service.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from conformance.kube import options as opts
from conformance.kube.commands import docker_problem, missing_tools, run_all, tool_path
from conformance.kube.recipes import (
    KubeAccess,
    install_commands,
    kind_export_kubeconfig,
    kind_get_clusters,
)
from conformance.kube.target import KubeTarget

DEFAULT_CLUSTER_NAME = "apikey-conformance"


def _kind_cluster(**kwargs: Any) -> Any:
    from pytest_kind import KindCluster

    return KindCluster(**kwargs)


class KindTarget(KubeTarget):
    name = "kind"

    def __init__(
        self, options: Mapping[str, Any], *, cluster_factory: Callable[..., Any] = _kind_cluster, **kwargs: Any
    ) -> None:
        super().__init__(options, **kwargs)
        self.cluster_name = opts.text(options, "cluster_name", DEFAULT_CLUSTER_NAME) or DEFAULT_CLUSTER_NAME
        self.reuse = opts.flag(options, "reuse", True)
        self.keep = opts.flag(options, "keep", False)
        self.install = opts.flag(options, "install", True)
        self.node_image = opts.text(options, "node_image")
        self.kubeconfig = opts.text(options, "kubeconfig") or str(
            self.work_dir / f"kind-{self.cluster_name}.kubeconfig"
        )
        self._cluster_factory = cluster_factory
        self._cluster: Any = None
        self._created = False

    @classmethod
    def unavailable_reason(cls, options: Mapping[str, Any]) -> str | None:
        problems = []
        docker = docker_problem()
        if docker:
            problems.append(docker)
        tools = ["kind", "kubectl"] + (["helm"] if opts.flag(options, "install", True) else [])
        missing = missing_tools(tools)
        if missing:
            problems.append(f"{', '.join(missing)} not found on PATH (this project never downloads them)")
        return f"target 'kind' cannot run here: {'; '.join(problems)}" if problems else None

    def _prepare(self) -> KubeAccess:
        kind = tool_path("kind", self._which)
        kubectl = tool_path("kubectl", self._which)
        self._cluster = self._cluster_factory(
            name=self.cluster_name,
            kubeconfig=Path(self.kubeconfig),
            image=self.node_image,
            kind_path=Path(kind),
            kubectl_path=Path(kubectl),
        )
        existing = self.cluster_name in self._runner(kind_get_clusters(kind)).split()
        if existing and not self.reuse:
            self._cluster.delete()
            existing = False
        if existing:
            self._runner(kind_export_kubeconfig(kind, self.cluster_name, self.kubeconfig))
        self._cluster.create(config_file=self.recipes.kind_config)
        self._created = not existing
        access = KubeAccess(kubeconfig=self.kubeconfig, context=f"kind-{self.cluster_name}")
        if self.install:
            helm = tool_path("helm", self._which)
            run_all(
                install_commands(self.recipes, self.implementations, kubectl=kubectl, helm=helm, access=access),
                self._runner,
            )
        return access

    def _teardown(self) -> None:
        # Only a cluster this run created is deleted, and not with keep=true (to inspect it afterwards).
        if self._cluster is not None and self._created and not self.keep:
            self._cluster.delete()
        self._cluster = None
