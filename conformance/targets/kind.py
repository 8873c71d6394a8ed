"""The `kind` target: a kind cluster made with pytest-kind's KindCluster, with Gateway API, kgateway or
agentgateway, httpbin and the profile Gateway installed from `clusters/`.

kind, kubectl and helm come from PATH and are passed to KindCluster explicitly, so nothing is downloaded; their
versions are checked against clusters/versions.yaml first. The node image is the one clusters/kind/kind-config.yaml
pins. Listeners are reached through `kubectl port-forward` to the Gateway's Service. `dry_run=true` prints every
command and manifest of that sequence instead of running it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from conformance.kube.commands import docker_problem, tool_path
from conformance.kube.recipes import (
    KubeAccess,
    Step,
    clusters_dir,
    kind_create_cluster,
    kind_delete_cluster,
    kind_export_kubeconfig,
    kind_get_clusters,
    load_recipes,
)
from conformance.kube.target import KubeTarget
from conformance.kube.tools import ToolCheck, check_tools, tool_problems
from conformance.kube.versions import Version, image_version
from conformance.targets.options import KindOptions, TargetOptions


def _kind_cluster(**kwargs: Any) -> Any:
    from pytest_kind import KindCluster

    return KindCluster(**kwargs)


class KindTarget(KubeTarget):
    name = "kind"
    summary = "a kind cluster with Gateway API, kgateway or agentgateway and httpbin installed (needs Docker)"
    Options: ClassVar[type[KindOptions]] = KindOptions
    options: KindOptions

    def __init__(
        self,
        options: Mapping[str, Any] | KindOptions | None = None,
        *,
        cluster_factory: Callable[..., Any] = _kind_cluster,
        **kwargs: Any,
    ) -> None:
        super().__init__(options, **kwargs)
        self.cluster_name = self.options.cluster_name
        self.reuse = self.options.reuse
        self.keep = self.options.keep
        self.node_image = self.options.node_image
        self.kubeconfig = self.options.kubeconfig or str(self.work_dir / f"kind-{self.cluster_name}.kubeconfig")
        self._cluster_factory = cluster_factory
        self._cluster: Any = None
        self._created = False

    @classmethod
    def required_tools(cls, options: Mapping[str, Any] | TargetOptions) -> list[str]:
        return ["kind", "kubectl"] + (["helm"] if cls.Options.parse(options).installs else [])

    @classmethod
    def unavailable_reason(cls, options: Mapping[str, Any] | TargetOptions) -> str | None:
        parsed = cls.Options.parse(options)
        if parsed.dry_run:
            return None  # a dry run runs nothing; its plan says what a real run here would lack
        problems = []
        docker = docker_problem()
        if docker:
            problems.append(docker)
        minimums = load_recipes(parsed.clusters_dir or clusters_dir()).tool_minimums
        problems += tool_problems(check_tools(cls.required_tools(parsed), minimums))
        return f"target 'kind' cannot run here: {'; '.join(problems)}" if problems else None

    def _kubernetes_version(self) -> Version:
        """The node's Kubernetes version: the pinned one, or the tag of a node_image given for this run."""
        found = image_version(self.node_image) if self.node_image else None
        return found or self.recipes.kubernetes_version

    def _access(self) -> KubeAccess:
        return KubeAccess(kubeconfig=self.kubeconfig, context=f"kind-{self.cluster_name}")

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
        access = self._access()
        if self.installs:
            self._install(access)
        return access

    def _teardown(self) -> None:
        # Only a cluster this run created is deleted, and not with keep=true (to inspect it afterwards).
        if self._cluster is not None and self._created and not self.keep:
            self._cluster.delete()
        self._cluster = None

    # -- the plan ---------------------------------------------------------------------------------------

    def _kubernetes_line(self) -> str:
        image = self.node_image or self.recipes.node_image
        return f"Kubernetes {self._kubernetes_version()} (kind node image {image})"

    def _environment_problems(self) -> list[str]:
        docker = docker_problem(which=self._which)
        return [docker] if docker else []

    def _version_notes(self, tools: Sequence[ToolCheck]) -> list[str]:
        notes = super()._version_notes(tools)
        if self.node_image:
            notes.insert(0, f"node_image={self.node_image} replaces the pinned {self.recipes.node_image}")
        return notes

    def _setup_steps(self) -> list[Step]:
        kind = self._which("kind") or "kind"
        name, kubeconfig = self.cluster_name, self.kubeconfig
        image = self.node_image or f"{self.recipes.node_image}, pinned in the config"
        create = kind_create_cluster(kind, name, kubeconfig, self.node_image, self.recipes.kind_config)
        steps = [Step(kind_get_clusters(kind), f"is there a cluster {name!r} already?")]
        if self.reuse:
            steps.append(Step(kind_export_kubeconfig(kind, name, kubeconfig), "if it is (reuse=true): use it as it is"))
            creation = f"if it is not: create it (node image {image})"
        else:
            steps.append(Step(kind_delete_cluster(kind, name, kubeconfig), "if it is (reuse=false): delete it"))
            creation = f"create it (node image {image})"
        # pytest-kind's KindCluster.create runs this command (after its own `kind get clusters`).
        steps.append(Step(create, creation, (self.recipes.kind_config,)))
        return steps

    def _teardown_steps(self) -> list[Step]:
        if self.keep:
            return []
        kind = self._which("kind") or "kind"
        return [
            Step(
                kind_delete_cluster(kind, self.cluster_name, self.kubeconfig),
                "only if this run created the cluster (keep=false)",
            )
        ]
