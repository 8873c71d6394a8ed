"""`apikey-conformance differential`: the same generated policies and requests on two targets.

Exit status: 0 when every difference is a known divergence, 1 when a divergence is not, 2 for a usage error,
3 when a target cannot run here or fails to do its part.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from conformance.differential.report import summary_lines, write_report, write_scenarios
from conformance.differential.runner import DIALECTS, DifferentialSettings, run_differential
from conformance.redact import REDACTOR
from conformance.targets import TARGETS, TargetError, TargetUnavailable

EXIT_DIVERGENCE, EXIT_USAGE, EXIT_TARGET = 1, 2, 3


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(
        prog="apikey-conformance differential",
        description=(
            "Generate valid policies and requests (hypothesis), send them to two targets, and shrink every "
            "difference to a minimal Gherkin scenario stating what the second target (the baseline) did."
        ),
    )
    parse.add_argument("--targets", default="reference,envoy", help="A,B: compare A against the baseline B")
    parse.add_argument("--profile", default="kgateway", choices=sorted(DIALECTS), help="the policy dialect")
    parse.add_argument("--examples", type=int, default=40, help="generated policy worlds (default 40)")
    parse.add_argument("--seed", type=int, default=0, help="hypothesis seed: the same seed generates the same cases")
    parse.add_argument("--max-requests", type=int, default=4, help="requests per policy world (default 4)")
    parse.add_argument(
        "--max-divergences", type=int, default=8, help="kinds of divergence to shrink; later ones are only listed"
    )
    parse.add_argument("--shrink-known", action="store_true", help="shrink known divergences too (slower)")
    parse.add_argument(
        "--target-option",
        action="append",
        default=[],
        metavar="[N:]KEY=VALUE",
        help="a target's setting; N is 1 or 2 (or the target's name); without it, both targets get it",
    )
    parse.add_argument("--report", type=Path, default=Path("reports/differential-report.yaml"))
    parse.add_argument("--scenarios", type=Path, default=Path("reports/differential.feature"))
    return parse


def target_options(targets: tuple[str, str], given: Sequence[str]) -> tuple[dict[str, str], dict[str, str]]:
    options: tuple[dict[str, str], dict[str, str]] = ({}, {})
    for item in given:
        which, colon, setting = item.partition(":")
        if not colon or "=" in which:
            which, setting = "", item
        key, equals, value = setting.partition("=")
        if not equals or not key.strip():
            raise ValueError(f"--target-option {item!r}: expected [N:]KEY=VALUE")
        if which in ("", "1", "2"):
            chosen = [0, 1] if not which else [int(which) - 1]
        elif which in targets and targets[0] != targets[1]:
            chosen = [targets.index(which)]
        else:
            raise ValueError(f"--target-option {item!r}: {which!r} is not 1, 2 or one of two different targets")
        for index in chosen:
            options[index][key.strip()] = value.strip()
    return options


def settings_from(args: argparse.Namespace) -> DifferentialSettings:
    targets = tuple(t.strip() for t in args.targets.split(",") if t.strip())
    if len(targets) != 2:
        raise ValueError(f"--targets {args.targets!r}: expected two targets, A,B")
    for name in targets:
        if name not in TARGETS:
            raise ValueError(f"--targets: unknown target {name!r}; expected one of {', '.join(TARGETS)}")
    pair = (targets[0], targets[1])
    return DifferentialSettings(
        targets=pair,
        profile=args.profile,
        examples=args.examples,
        seed=args.seed,
        target_options=target_options(pair, args.target_option),
        max_requests=args.max_requests,
        max_divergences=args.max_divergences,
        shrink_known=args.shrink_known,
    )


def main(argv: Sequence[str]) -> int:
    args = parser().parse_args(list(argv))
    try:
        settings = settings_from(args)
    except ValueError as error:
        print(f"apikey-conformance differential: {error}", file=sys.stderr)
        return EXIT_USAGE

    def say(message: str) -> None:
        print(f"[differential] {REDACTOR.redact(message)}", flush=True)

    try:
        result = run_differential(settings, progress=say)
    except TargetUnavailable as error:
        print(f"apikey-conformance differential: {REDACTOR.redact(str(error))}", file=sys.stderr)
        return EXIT_TARGET
    except (TargetError, ValueError, RuntimeError) as error:
        print(
            f"apikey-conformance differential: {type(error).__name__}: {REDACTOR.redact(str(error))}", file=sys.stderr
        )
        return EXIT_TARGET
    report = write_report(result, args.report, args.scenarios)
    scenarios = write_scenarios(result, args.scenarios)
    for line in summary_lines(result):
        print(line)
    if result.unknown:
        # The scenarios hold this run's own generated keys (test data, as features/ does), never a user's key.
        print("\nready-to-paste scenarios (also in the scenarios file, under its @" + settings.profile + " Feature):")
        for divergence in result.unknown:
            print("\n" + divergence.scenario)
        print()
    print(f"divergence report: {report.resolve()}")
    print(f"scenarios: {scenarios.resolve()}")
    return EXIT_DIVERGENCE if result.failed else 0
