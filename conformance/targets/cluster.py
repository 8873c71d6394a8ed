"""The `cluster` target: an existing cluster from a kubeconfig / context, the vendor certification path.

It installs nothing unless `install=true` (then the pinned releases from clusters/, as the kind target does).
Listeners are reached through `kubectl port-forward` to the Gateway's Service, or at
`gateway_url_<listener port>=URL` when given (e.g. a LoadBalancer address). `dry_run=true` prints the plan.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from conformance.kube.commands import cluster_problem
from conformance.kube.recipes import KubeAccess, clusters_dir, load_recipes
from conformance.kube.target import KubeTarget
from conformance.kube.tools import check_tools, tool_problems
from conformance.targets.options import ClusterOptions, TargetOptions


def _access(options: ClusterOptions) -> KubeAccess:
    return KubeAccess(kubeconfig=options.kubeconfig, context=options.context)


class ClusterTarget(KubeTarget):
    name = "cluster"
    summary = "an existing cluster from a kubeconfig: the vendor certification path"
    Options: ClassVar[type[ClusterOptions]] = ClusterOptions
    options: ClusterOptions

    @classmethod
    def required_tools(cls, options: Mapping[str, Any] | TargetOptions) -> list[str]:
        parsed = cls.Options.parse(options)
        tools = []
        if parsed.installs or not parsed.gateway_urls:
            tools.append("kubectl")  # install steps and port-forwards
        if parsed.installs:
            tools.append("helm")
        return tools

    @classmethod
    def unavailable_reason(cls, options: Mapping[str, Any] | TargetOptions) -> str | None:
        parsed = cls.Options.parse(options)
        if parsed.dry_run:
            return None  # a dry run runs nothing; its plan says what a real run here would lack
        minimums = load_recipes(parsed.clusters_dir or clusters_dir()).tool_minimums
        checks = check_tools(cls.required_tools(parsed), minimums)
        missing = [check.name for check in checks if check.path is None]
        if missing:
            return (
                f"target 'cluster' needs {' and '.join(missing)} on PATH, and "
                f"{'they are' if len(missing) > 1 else 'it is'} not there"
            )
        problems = tool_problems(checks)
        if problems:
            return f"target 'cluster' cannot run here: {'; '.join(problems)}"
        access = _access(parsed)
        problem = cluster_problem(access.kubeconfig, access.context)
        if problem:
            return (
                f"target 'cluster' has no cluster to run against: {problem}; choose one with "
                f"--target-option kubeconfig=PATH and --target-option context=NAME"
            )
        return None

    def _access(self) -> KubeAccess:
        return _access(self.options)

    def _prepare(self) -> KubeAccess:
        access = self._access()
        if self.installs:
            self._install(access)
        return access
