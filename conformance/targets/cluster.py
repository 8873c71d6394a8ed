"""The `cluster` target: an existing cluster from a kubeconfig / context, the vendor certification path.

It installs nothing unless `install=true`. Listeners are reached through `kubectl port-forward` to the
Gateway's Service, or at `gateway_url_<listener port>=URL` when given (e.g. a LoadBalancer address).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conformance.kube import options as opts
from conformance.kube.commands import cluster_problem, missing_tools, run_all, tool_path
from conformance.kube.recipes import KubeAccess, install_commands
from conformance.kube.target import KubeTarget


def _access(options: Mapping[str, Any]) -> KubeAccess:
    return KubeAccess(kubeconfig=opts.text(options, "kubeconfig"), context=opts.text(options, "context"))


class ClusterTarget(KubeTarget):
    name = "cluster"

    @classmethod
    def unavailable_reason(cls, options: Mapping[str, Any]) -> str | None:
        install = opts.flag(options, "install", False)
        tools = []
        if install or not opts.gateway_urls(options):
            tools.append("kubectl")  # install steps and port-forwards
        if install:
            tools.append("helm")
        missing = missing_tools(tools)
        if missing:
            return (
                f"target 'cluster' needs {' and '.join(missing)} on PATH, and "
                f"{'they are' if len(missing) > 1 else 'it is'} not there"
            )
        access = _access(options)
        problem = cluster_problem(access.kubeconfig, access.context)
        if problem:
            return (
                f"target 'cluster' has no cluster to run against: {problem}; choose one with "
                f"--target-option kubeconfig=PATH and --target-option context=NAME"
            )
        return None

    def _prepare(self) -> KubeAccess:
        access = _access(self.options)
        if opts.flag(self.options, "install", False):
            run_all(
                install_commands(
                    self.recipes,
                    self.implementations,
                    kubectl=tool_path("kubectl", self._which),
                    helm=tool_path("helm", self._which),
                    access=access,
                ),
                self._runner,
            )
        return access
