"""Build the allure HTML report from a run's allure results, and check it holds every scenario the run ran.

    python -m conformance.allure_report [RESULTS_DIR ...] [--allure PATH] [--output DIR]

Default: every reports/allure-results* folder. The HTML goes next to the results (`allure-results-envoy` ->
`allure-report-envoy`). The generator is Allure 3 from npm (`tox -e report` installs it); `--allure` names its
executable, else `allure` on PATH, else `npx --no-install allure`. Exit status 1 when the report's test count
differs from the number of scenarios the run recorded (`scenarios.total` in environment.properties).
Standard library only, so it runs without the harness installed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

ENVIRONMENT_FILE = "environment.properties"  # written by conformance.allure_results
TOTAL_KEY = "scenarios.total"


def environment(results: Path) -> dict[str, str]:
    path = results / ENVIRONMENT_FILE
    entries: dict[str, str] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            key, sep, value = line.partition("=")
            if sep:
                entries[key.strip()] = value.strip()
    return entries


def title(env: dict[str, str]) -> str:
    parts = [f"API key auth conformance: target {env.get('target', '?')}"]
    if env.get("profiles"):
        parts.append(env["profiles"])
    if env.get("run", "").startswith("subset"):
        parts.append(env["run"].upper())
    return " | ".join(parts)


def output_for(results: Path) -> Path:
    name = results.name
    html = name.replace("allure-results", "allure-report") if "allure-results" in name else f"{name}-html"
    return results.parent / html


def allure_command(explicit: str | None) -> list[str]:
    if explicit:
        return [explicit]
    found = shutil.which("allure")
    if found:
        return [found]
    npx = shutil.which("npx")
    if npx:
        return [npx, "--no-install", "allure"]
    raise SystemExit("allure (npm package `allure`, version 3) is not installed: run `tox -e report`")


def build(results: Path, output: Path, allure: list[str]) -> tuple[int, int | None, int]:
    """Generate the HTML; returns (tests in the report, scenarios the run recorded or None, retries)."""
    if not any(results.glob("*-result.json")):
        raise SystemExit(f"{results}: no allure results (run the suite with --alluredir {results})")
    env = environment(results)
    if output.exists():
        shutil.rmtree(output)
    command = [*allure, "generate", str(results), "--output", str(output), "--report-name", title(env)]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    summary_file = output / "summary.json"
    if completed.returncode != 0 or not summary_file.is_file():
        raise SystemExit(f"allure generate failed ({completed.returncode}):\n{completed.stdout}{completed.stderr}")
    stats = json.loads(summary_file.read_text(encoding="utf-8")).get("stats", {})
    expected = int(env[TOTAL_KEY]) if env.get(TOTAL_KEY, "").isdigit() else None
    return int(stats.get("total", 0)), expected, int(stats.get("retries", 0))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "results", nargs="*", type=Path, help="allure results folders (default reports/allure-results*)"
    )
    parser.add_argument("--allure", help="the allure 3 executable")
    parser.add_argument("--output", type=Path, help="HTML folder (one results folder only)")
    args = parser.parse_args(argv)
    folders = args.results or sorted(p for p in Path("reports").glob("allure-results*") if p.is_dir())
    if not folders:
        print("no allure results under reports/: run `tox -e conformance` (or `tox -e envoy`) first", file=sys.stderr)
        return 1
    if args.output and len(folders) > 1:
        parser.error("--output needs exactly one results folder")
    allure = allure_command(args.allure)
    status = 0
    for folder in folders:
        output = args.output or output_for(folder)
        tests, expected, retries = build(folder, output, allure)
        verdict = "" if expected is None else f" (the run recorded {expected} scenarios)"
        print(f"{output / 'index.html'}: {tests} tests{verdict}, {retries} retries")
        if expected is not None and (tests != expected or retries):
            print(f"MISMATCH: the HTML report must hold each of the {expected} scenarios once", file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
