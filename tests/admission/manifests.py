"""Every manifest the repository ships, found where it lives: YAML files, feature docstrings, notebook strings."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
YAML_FOLDERS = ("examples", "clusters", "conformance/manifests")
_DOCSTRING = re.compile(r'^(\s*)"""\n(.*?)\n\s*"""', re.S | re.M)
_PLACEHOLDER = "placeholder-value"  # stands in for an f-string's interpolated value (a generated key)


@dataclass(frozen=True)
class Manifest:
    source: str
    document: dict[str, Any]

    @property
    def label(self) -> str:
        meta = self.document.get("metadata") or {}
        return f"{self.source}:{self.document.get('kind')}/{meta.get('name')}"


def _documents(text: str, source: str) -> Iterator[Manifest]:
    for document in yaml.safe_load_all(text):
        if isinstance(document, dict) and isinstance(document.get("apiVersion"), str) and "kind" in document:
            yield Manifest(source, document)


def _feature_texts(path: Path) -> Iterator[str]:
    for match in _DOCSTRING.finditer(path.read_text(encoding="utf-8")):
        indent = len(match.group(1))
        yield "\n".join(line[indent:] for line in match.group(2).splitlines())


def _python_strings(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
        elif isinstance(node, ast.JoinedStr):
            text = "".join(v.value if isinstance(v, ast.Constant) else _PLACEHOLDER for v in node.values)
        else:
            continue
        if "apiVersion:" in text and "kind:" in text:
            yield text


def repository_manifests() -> list[Manifest]:
    found: list[Manifest] = []
    for folder in YAML_FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.yaml")):
            found += _documents(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    for path in sorted((ROOT / "features").rglob("*.feature")):
        for text in _feature_texts(path):
            found += _documents(text, str(path.relative_to(ROOT)))
    for path in sorted((ROOT / "notebooks").glob("*.py")):
        for text in _python_strings(path):
            found += _documents(text, str(path.relative_to(ROOT)))
    return found
