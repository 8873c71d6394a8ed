"""The conformance suite: every scenario under features/, run against the chosen target."""

from __future__ import annotations

from pathlib import Path


def features_dir() -> Path:
    """Scenarios ship inside the wheel; in a source checkout they are the repository's features/ folder."""
    packaged = Path(__file__).resolve().parent.parent / "_data" / "features"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "features"
