"""Small hand-written worlds for the differential tests (the generated ones are tested in test_strategies)."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.differential import kgateway
from conformance.differential.world import route, target_ref
from conformance.profiles import PROFILES

#: Seeds a test searches with until it meets what it looks for. A seed fixes the generated cases only for one
#: state of the code (hypothesis also draws constants found in the loaded source), so no test relies on one.
SEEDS = (1, 2, 3, 4, 5)


def kgateway_world(key_sources: list[dict[str, str]], **auth: Any) -> list[dict[str, Any]]:
    """The profile's Gateway, the differential route (rules a, b, rest) and one Gateway-wide policy."""
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "keys-1", "namespace": kgateway.NAMESPACE},
        "stringData": {"alice": "model-key-7d1e"},
    }
    policy = {
        "apiVersion": "gateway.kgateway.dev/v1alpha1",
        "kind": "TrafficPolicy",
        "metadata": {"name": "auth-gateway", "namespace": kgateway.NAMESPACE},
        "spec": {
            "targetRefs": [target_ref("gateway", kgateway.GATEWAY)],
            "apiKeyAuth": {"secretRef": {"name": "keys-1"}, "keySources": key_sources, **auth},
        },
    }
    return [*PROFILES["kgateway"].base_manifests(), secret, route(kgateway.NAMESPACE, kgateway.GATEWAY), policy]


@dataclass
class PastedRun:
    returncode: int
    output: str


def paste_and_run(folder: Path, profile: str, scenario: str, *options: str) -> PastedRun:
    """Paste one printed scenario into a new feature file and run it as the suite runs scenarios: pytest-bdd
    with this project's plugin and steps, against the target the options name."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pasted.feature").write_text(f"@{profile}\nFeature: A pasted differential scenario\n\n{scenario}\n")
    (folder / "test_pasted.py").write_text(
        "from pathlib import Path\n\nfrom conformance.scenarios import bind\n\nbind(globals(), Path(__file__).parent)\n"
    )
    command = [
        sys.executable,
        "-m",
        "pytest",
        "test_pasted.py",
        "-p",
        "no:cacheprovider",
        "-q",
        "--rootdir",
        str(folder),
        f"--conformance-report={folder / 'report.yaml'}",
        "--supported-features",
        "all",
        "--max-time-to-consistency",
        "5",
        *options,
    ]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=folder, check=False)
    return PastedRun(completed.returncode, completed.stdout + completed.stderr)


def printed_scenarios(output: str) -> list[str]:
    """The scenarios the CLI printed after 'ready-to-paste scenarios', each from its comments to its last step."""
    text = output.split("ready-to-paste scenarios", 1)[1].split("divergence report:", 1)[0]
    blocks, current = [], []
    for line in text.splitlines():
        if line.startswith("  #") and current and not current[-1].startswith("  #"):
            blocks.append("\n".join(current).rstrip())
            current = []
        if line.startswith("  "):
            current.append(line)
    if current:
        blocks.append("\n".join(current).rstrip())
    return blocks
