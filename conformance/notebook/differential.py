"""A differential run in a notebook: one call runs it, the result renders as a table of divergences.

view = run_differential_view(targets=("reference", "envoy"), examples=40, seed=7)
view                      # counts, then one row per kind of divergence (known ones with their reason)
view.frame()              # the same table as a pandas DataFrame
view.scenario(1)          # divergence 1's scenario, keys redacted (the scenarios file holds them)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from conformance.differential import DifferentialResult, DifferentialSettings, Divergence, run_differential
from conformance.notebook.render import box, esc, frame, muted, pre, redacted, table

COLUMNS = ("#", "verdict", "kind", "requests", "differences", "scenario")


def _differences(divergence: Divergence, labels: tuple[str, str]) -> str:
    return "\n".join(
        f"{d.aspect}{' ' + d.name if d.name else ''}: {labels[0]} {d.a!r}, {labels[1]} {d.b!r}"
        for d in divergence.outcome.differences
    )


class DifferentialView:
    def __init__(self, result: DifferentialResult) -> None:
        self.result = result

    def rows(self) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = []
        labels = self.result.labels
        for divergence in self.result.unknown:
            reproducible = "ready to paste" if divergence.reproducible else "; ".join(divergence.notes)
            rows.append(
                (
                    divergence.number,
                    "FAILS",
                    ", ".join(divergence.signature),
                    divergence.requests,
                    _differences(divergence, labels),
                    reproducible,
                )
            )
        for tally in self.result.known.values():
            if tally.requests and tally.example is not None:
                rows.append(
                    (
                        "-",
                        f"known: {tally.entry.id} ({tally.entry.status})",
                        tally.entry.title,
                        tally.requests,
                        _differences(tally.example, labels),
                        tally.entry.reason,
                    )
                )
        return rows

    def frame(self) -> pd.DataFrame:
        return frame(self.rows(), COLUMNS)

    def headline(self) -> str:
        result = self.result
        verdict = "FAILURE" if result.failed else "success"
        return (
            f"{result.labels[0]} against {result.labels[1]} ({result.settings.profile}, seed {result.settings.seed}): "
            f"{result.policies} policies and {result.requests} requests compared in {result.elapsed:.1f}s; "
            f"{len(result.unknown)} unknown divergence(s): {verdict}"
        )

    def scenario(self, number: int) -> str:
        """A divergence's scenario with its keys redacted (write_scenarios() writes the runnable one)."""
        divergence = next(d for d in self.result.divergences if d.number == number)
        return redacted(divergence.scenario)

    def __repr__(self) -> str:
        return redacted(self.headline())

    def _repr_html_(self) -> str:
        stale = [t.entry.id for t in self.result.known.values() if not t.requests]
        parts = [
            f"<b>{esc(self.headline())}</b>",
            table(self.frame(), colour=("verdict",), empty="the two targets agreed on every request"),
        ]
        if stale:
            parts.append(muted(f"known divergences not met in this run: {', '.join(stale)}"))
        parts.append(pre(self.result.settings.command(), command=True))
        return box("".join(parts))


def run_differential_view(
    targets: tuple[str, str] = ("reference", "envoy"),
    profile: str = "kgateway",
    examples: int = 40,
    seed: int = 0,
    target_options: tuple[Mapping[str, Any], Mapping[str, Any]] = ({}, {}),
) -> DifferentialView:
    settings = DifferentialSettings(
        targets=targets, profile=profile, examples=examples, seed=seed, target_options=target_options
    )
    return DifferentialView(run_differential(settings))
