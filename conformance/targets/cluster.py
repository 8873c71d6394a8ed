"""The `cluster` target: an existing cluster from a kubeconfig / context, the vendor certification path.

It installs nothing unless `install=true` (then the pinned releases from clusters/, as the kind target does).
Listeners are reached through `kubectl port-forward` to the Gateway's Service, or at
`gateway_url_<listener port>=URL` when given (e.g. a LoadBalancer address). `dry_run=true` prints the plan.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from conformance.kube import options as opts
from conformance.kube.commands import cluster_problem
from conformance.kube.recipes import KubeAccess, clusters_dir, load_recipes
from conformance.kube.target import KubeTarget
from conformance.kube.tools import check_tools, tool_problems


def _access(options: Mapping[str, Any]) -> KubeAccess:
    return KubeAccess(kubeconfig=opts.text(options, "kubeconfig"), context=opts.text(options, "context"))


class ClusterTarget(KubeTarget):
    name = "cluster"

    @classmethod
    def required_tools(cls, options: Mapping[str, Any]) -> list[str]:
        install = opts.flag(options, "install", cls.install_default)
        tools = []
        if install or not opts.gateway_urls(options):
            tools.append("kubectl")  # install steps and port-forwards
        if install:
            tools.append("helm")
        return tools

    @classmethod
    def unavailable_reason(cls, options: Mapping[str, Any]) -> str | None:
        if opts.flag(options, "dry_run", False):
            return None  # a dry run runs nothing; its plan says what a real run here would lack
        root = opts.text(options, "clusters_dir")
        minimums = load_recipes(Path(root) if root else clusters_dir()).tool_minimums
        checks = check_tools(cls.required_tools(options), minimums)
        missing = [check.name for check in checks if check.path is None]
        if missing:
            return (
                f"target 'cluster' needs {' and '.join(missing)} on PATH, and "
                f"{'they are' if len(missing) > 1 else 'it is'} not there"
            )
        problems = tool_problems(checks)
        if problems:
            return f"target 'cluster' cannot run here: {'; '.join(problems)}"
        access = _access(options)
        problem = cluster_problem(access.kubeconfig, access.context)
        if problem:
            return (
                f"target 'cluster' has no cluster to run against: {problem}; choose one with "
                f"--target-option kubeconfig=PATH and --target-option context=NAME"
            )
        return None

    @property
    def installs(self) -> bool:
        return opts.flag(self.options, "install", self.install_default)

    def _access(self) -> KubeAccess:
        return _access(self.options)

    def _prepare(self) -> KubeAccess:
        access = self._access()
        if self.installs:
            self._install(access)
        return access
