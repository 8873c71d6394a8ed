"""The install plan a Kubernetes target would carry out, as text: versions, tools, then every command in order
with the manifest files it applies. `--target-option dry_run=true` prints it instead of running it."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field

from conformance.kube.recipes import Recipes, Step
from conformance.kube.tools import ToolCheck

INDENT = "      "


@dataclass(frozen=True)
class Plan:
    target: str
    #: The Kubernetes the run gets (kind: the node image) or expects (an existing cluster).
    kubernetes: str
    recipes: Recipes
    implementations: tuple[str, ...]
    tools: Sequence[ToolCheck]
    #: Commands before the install (kind: find, create or reuse the cluster), in order.
    setup: Sequence[Step] = ()
    install: Sequence[Step] = ()
    #: Commands at the end of the run (kind: delete the cluster this run created).
    teardown: Sequence[Step] = ()
    #: What a reader should know: compatibility warnings, a real run's blockers on this machine.
    notes: Sequence[str] = field(default_factory=tuple)


def _versions(plan: Plan) -> list[str]:
    recipes = plan.recipes
    lines = [
        f"  {plan.kubernetes}",
        f"  Gateway API {recipes.gateway_api_version} ({recipes.gateway_api_channel} channel): "
        f"{recipes.gateway_api_manifest}",
    ]
    for impl in (recipes.implementation(name) for name in plan.implementations):
        supports = ", ".join(
            f"{label} {impl.supports[key]}"
            for key, label in (("kubernetes", "Kubernetes"), ("gatewayApi", "Gateway API"))
        )
        charts = ", ".join(f"{chart.chart} {chart.version}" for chart in impl.charts)
        pinned = "overridden for this run" if impl.overridden else f"pinned release supports {supports}"
        lines.append(f"  {impl.name} {impl.version}: {charts} ({pinned})")
    lines.append(f"  httpbin image {recipes.httpbin_image}")
    return lines


def _step_lines(number: int, step: Step) -> list[str]:
    lines = [f"{number:>3}. {shlex.join(step.argv)}", f"{INDENT}# {step.why}"]
    for path in step.manifests:
        lines.append(f"{INDENT}--- {path}")
        lines += [f"{INDENT}{line}".rstrip() for line in path.read_text(encoding="utf-8").splitlines()]
        lines.append(f"{INDENT}---")
    return lines


def render(plan: Plan) -> str:
    """The plan as text: headed sections, numbered commands in the order they run, each local manifest in full."""
    lines = [
        f"Install plan of target {plan.target!r} for {', '.join(plan.implementations)} (dry run: nothing is run)",
        f"Versions (from {plan.recipes.root / 'versions.yaml'}):",
        *_versions(plan),
        "Tools on this machine:",
        *(f"  {check.describe()}" for check in plan.tools),
    ]
    if plan.notes:
        lines += ["Notes:", *(f"  - {note}" for note in plan.notes)]
    number = 0
    for title, steps in (("Cluster", plan.setup), ("Install", plan.install), ("At the end of the run", plan.teardown)):
        if not steps:
            continue
        lines.append(f"{title}:")
        for step in steps:
            number += 1
            lines += _step_lines(number, step)
    if not plan.install:
        lines.append("Install: nothing (install=false); the profile Gateways and httpbin must already be there")
    return "\n".join(lines) + "\n"
