"""What admitting one manifest costs, against the real CRDs (reference_impl.admission).

    python benchmarks/bench_admission.py [--repeat 200]

Reports, in this process:
  * the one-time cost of each release's CRDs (YAML load and schema validator, on first use);
  * per kind, the steady-state cost of `admit()` on the repository's own example manifests (median of rounds):
    a manifest none of whose parts was seen before (every CEL rule evaluated), of it the CEL rules, a new manifest
    that repeats known parts (here: only its name is new, so each rule's outcome is recalled), the same manifest
    again (recalled whole), and the typed view read from an admitted object (what `parse_manifest` adds).
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
import timeit
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from reference_impl.admission import admit, cel  # noqa: E402
from reference_impl.admission.catalog import RELEASES, find, load, resolve  # noqa: E402
from reference_impl.resources import KINDS  # noqa: E402

SOURCES = ("examples/kgateway", "examples/agentgateway")


def _manifests() -> dict[str, dict]:
    by_kind: dict[str, dict] = {}
    for folder in SOURCES:
        for path in sorted((ROOT / folder).glob("*.yaml")):
            for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
                if isinstance(document, dict):
                    by_kind.setdefault(document["kind"], document)
    return by_kind


def _renamed(document: dict, number: int) -> dict:
    """The same manifest under another name: admitted afresh, not recalled."""
    return {**document, "metadata": {**document["metadata"], "name": f"bench-{number}"}}


def _median_ms(call, repeat: int, rounds: int = 5) -> float:
    return statistics.median(timeit.repeat(call, number=repeat, repeat=rounds)) / repeat * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200, help="admissions per round (5 rounds)")
    repeat = parser.parse_args().repeat

    print("first use of each release (CRD YAML load + schema validators)")
    for project, releases in RELEASES.items():
        for release in releases:
            started = time.perf_counter()
            versions = load(project, release)
            for version in versions.values():
                _ = version.validator
            print(f"  {project:<13} {release:<8} {(time.perf_counter() - started) * 1000:7.1f} ms")

    print(f"\nsteady state, median of 5 rounds x {repeat} (ms per manifest)")
    print(f"  {'kind':<20} {'all new':>8} {'of it CEL':>10} {'name new':>9} {'unchanged':>10} {'view':>7}")
    for kind, document in _manifests().items():
        admit(document)  # compile this kind's rules once, as the first real manifest would
        names = itertools.count()

        def fresh(d: dict = document, n: itertools.count = names) -> None:
            cel._OUTCOMES.clear()  # no rule outcome to recall: every part of the manifest is new
            admit(_renamed(d, next(n)))

        all_new = _median_ms(fresh, repeat)
        renamed = _median_ms(lambda d=document, n=names: admit(_renamed(d, next(n))), repeat)
        unchanged = _median_ms(lambda d=document: admit(d), repeat)
        group, _, version_name = document["apiVersion"].rpartition("/")
        version = find(group, version_name, kind, resolve(None))
        admitted = admit(document)
        body = {k: v for k, v in admitted.items() if k != "metadata"}
        schema = version.schema if version else {}

        def rules(b: dict = body, s: dict = schema) -> None:
            cel._OUTCOMES.clear()
            cel.validate(b, s)

        rules_ms = _median_ms(rules, repeat)
        view = _median_ms(lambda a=admitted, k=kind: KINDS[k].model_validate(a), repeat)
        print(f"  {kind:<20} {all_new:8.3f} {rules_ms:10.3f} {renamed:9.3f} {unchanged:10.3f} {view:7.3f}")
    print(f"\ndistinct CEL programs compiled: {cel.program.cache_info().currsize}")


if __name__ == "__main__":
    main()
