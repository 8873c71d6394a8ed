"""The command-line tools a Kubernetes target runs (kind, kubectl, helm): where they are, which version, and
whether that version is new enough for the pins in clusters/versions.yaml.

Each check runs the tool's own version command once; nothing is downloaded or started.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from conformance.kube.commands import CommandError, Runner, run_command
from conformance.kube.versions import Version

Which = Callable[[str], str | None]


def _run_briefly(argv: Sequence[str]) -> str:
    return run_command(argv, timeout=20)


#: How each tool reports its own version. kubectl's JSON is stable across releases; `kind version` prints
#: "kind v0.31.0 go1.25.5 linux/amd64"; `helm version --short` prints "v3.17.1+g980d8ac".
VERSION_COMMANDS: Mapping[str, tuple[str, ...]] = {
    "kind": ("version",),
    "kubectl": ("version", "--client", "--output=json"),
    "helm": ("version", "--short"),
}


@dataclass(frozen=True)
class ToolCheck:
    name: str
    path: str | None
    version: Version | None
    minimum: Version | None
    problem: str | None  # why this tool cannot be used, or None

    def describe(self) -> str:
        """One line for the install plan: what was found and whether it will do."""
        needed = f">= {self.minimum}" if self.minimum else "any version"
        if self.path is None:
            return f"{self.name}: not found on PATH (needed, {needed})"
        found = f"{self.name} {self.version or '(version unknown)'} at {self.path}"
        return f"{found}: {self.problem}" if self.problem else f"{found} (ok, {needed})"


def _reported_version(name: str, output: str) -> Version | None:
    if name == "kubectl":
        try:
            git_version = json.loads(output)["clientVersion"]["gitVersion"]
        except (ValueError, KeyError, TypeError):
            return None
        return Version.find(str(git_version))
    return Version.find(output)


def check_tool(
    name: str, minimum: Version | None, *, which: Which = shutil.which, run: Runner = _run_briefly
) -> ToolCheck:
    path = which(name)
    if path is None:
        return ToolCheck(name, None, None, minimum, f"{name} not found on PATH")
    command = [path, *VERSION_COMMANDS[name]]
    try:
        output = run(command)
    except CommandError as error:
        return ToolCheck(name, path, None, minimum, f"could not read the version of {name}: {error}")
    version = _reported_version(name, output)
    if version is None:
        printed = output.strip().splitlines()
        shown = printed[0][:120] if printed else "nothing"
        return ToolCheck(
            name, path, None, minimum, f"could not read the version of {name}: `{' '.join(command)}` printed {shown!r}"
        )
    if minimum is not None and version < minimum:
        return ToolCheck(
            name,
            path,
            version,
            minimum,
            f"{name} {version} ({path}) is older than {minimum}, the minimum in clusters/versions.yaml",
        )
    return ToolCheck(name, path, version, minimum, None)


def check_tools(
    names: Iterable[str], minimums: Mapping[str, Version], *, which: Which = shutil.which, run: Runner = _run_briefly
) -> list[ToolCheck]:
    return [check_tool(name, minimums.get(name), which=which, run=run) for name in names]


def tool_problems(checks: Sequence[ToolCheck]) -> list[str]:
    """The reasons, as sentence parts: the missing tools in one part, then each unusable one."""
    missing = [c.name for c in checks if c.path is None]
    problems = [f"{', '.join(missing)} not found on PATH (this project never downloads them)"] if missing else []
    problems += [c.problem for c in checks if c.path is not None and c.problem]
    return problems


def skew_note(kubectl: Version | None, server: Version) -> str | None:
    """kubectl is supported within one minor version of the API server."""
    if kubectl is None or kubectl.major != server.major or abs(kubectl.minor - server.minor) <= 1:
        return None
    return (
        f"kubectl {kubectl} is more than one minor version away from Kubernetes {server}; "
        f"kubectl v{server.major}.{server.minor - 1} to v{server.major}.{server.minor + 1} is supported"
    )
