"""The vendored CRDs (`crds/<project>/<release>/`), the releases they belong to, and which one admits a kind.

Each CRD version is loaded and its schema validator built once, on first use, then kept for the process.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from reference_impl.admission import openapi

CRDS = Path(__file__).resolve().parent / "crds"

# Newest first. The reference gateway implements the newest release of each project.
RELEASES: dict[str, tuple[str, ...]] = {
    "gateway-api": ("v1.5.1",),
    "kgateway": ("main", "v2.3.x"),
    "agentgateway": ("v1.4.1", "v1.3.1"),
}
NEWEST = {project: releases[0] for project, releases in RELEASES.items()}
# The CRDs of what clusters/versions.yaml installs (kgateway v2.3.7 ships the v2.3.x ones): what a user's API server
# has, so what `apikey-gateway validate` and `serve` admit unless told otherwise. tests/admission checks the match.
PINNED = {"gateway-api": "v1.5.1", "kgateway": "v2.3.x", "agentgateway": "v1.4.1"}
NAMED = {"newest": NEWEST, "pinned": PINNED}
PROJECT_OF_GROUP = {
    "gateway.networking.k8s.io": "gateway-api",
    "gateway.kgateway.dev": "kgateway",
    "agentgateway.dev": "agentgateway",
}
_HELM_LITERAL = re.compile(r'\{\{ "((?:[^"\\]|\\.)*)" \}\}')
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class Version:
    """One served version of a CRD: its schema and, built on first use, its OpenAPI validator."""

    crd: str
    group: str
    kind: str
    name: str
    schema: dict[str, Any]
    status_subresource: bool
    _validator: Any = field(default=None, repr=False)

    @property
    def validator(self) -> Any:
        if self._validator is None:
            self._validator = openapi.compile_schema(self.schema)
        return self._validator


def parse_release(text: str, base: Mapping[str, str] = NEWEST) -> dict[str, str]:
    """`kgateway=v2.3.x,agentgateway=v1.4.1` -> every project's release: the ones named, `base` for the others.
    `newest` and `pinned` name a whole set, and may start the list (`pinned,kgateway=main`)."""
    selected: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        if item in NAMED:
            base = NAMED[item]
            continue
        project, sep, release = item.partition("=")
        if not sep:
            raise ValueError(f"expected PROJECT=RELEASE, newest or pinned, got {item!r}")
        selected[project.strip()] = release.strip()
    return resolve(selected, base)


def resolve(release: Mapping[str, str] | None, base: Mapping[str, str] = NEWEST) -> dict[str, str]:
    """The release of every project: the ones named, `base` (the newest) for the others. Unknown names are
    errors."""
    chosen = dict(base)
    for project, name in (release or {}).items():
        if project not in RELEASES:
            raise ValueError(f"unknown project {project!r}; expected one of {', '.join(RELEASES)}")
        if name != "newest" and name not in RELEASES[project]:
            raise ValueError(f"unknown {project} release {name!r}; vendored: {', '.join(RELEASES[project])}")
        chosen[project] = RELEASES[project][0] if name == "newest" else name
    return chosen


def _render(text: str, path: Path) -> str:
    if "{{" in _HELM_LITERAL.sub("", text):
        raise ValueError(f"{path}: template syntax other than string literals")
    return _HELM_LITERAL.sub(lambda m: m.group(1).replace('\\"', '"').replace("\\\\", "\\"), text)


def _node(schema: dict[str, Any], path: list[str]) -> dict[str, Any]:
    for name in path:
        schema = schema["properties"][name]
    return schema


def _apply_overlays(crds: list[dict[str, Any]], folder: Path) -> None:
    file = folder / "overlays.yaml"
    if not file.exists():
        return
    by_name = {crd["metadata"]["name"]: crd for crd in crds}
    for overlay in yaml.load(file.read_text(encoding="utf-8"), Loader=_Loader):
        version = next(v for v in by_name[overlay["crd"]]["spec"]["versions"] if v["name"] == overlay["version"])
        *parents, last = overlay["path"]
        _node(version["schema"]["openAPIV3Schema"], parents)["properties"][last] = copy.deepcopy(overlay["schema"])


@cache
def load(project: str, release: str) -> dict[tuple[str, str, str], Version]:
    """(group, version, kind) -> Version for every served version of the CRDs of one release."""
    folder = CRDS / project / release
    crds = [
        yaml.load(_render(path.read_text(encoding="utf-8"), path), Loader=_Loader)
        for path in sorted(folder.glob("*.yaml"))
        if path.name != "overlays.yaml"
    ]
    _apply_overlays(crds, folder)
    versions: dict[tuple[str, str, str], Version] = {}
    for crd in crds:
        spec = crd["spec"]
        for served in spec["versions"]:
            if not served.get("served", True):
                continue
            versions[(spec["group"], served["name"], spec["names"]["kind"])] = Version(
                crd=crd["metadata"]["name"],
                group=spec["group"],
                kind=spec["names"]["kind"],
                name=served["name"],
                schema=served["schema"]["openAPIV3Schema"],
                status_subresource="status" in (served.get("subresources") or {}),
            )
    return versions


def kinds(project: str, release: str) -> set[str]:
    return {kind for (_, _, kind) in load(project, release)}


def find(group: str, version: str, kind: str, release: Mapping[str, str]) -> Version | None:
    project = PROJECT_OF_GROUP.get(group)
    if project is None:
        return None
    return load(project, release[project]).get((group, version, kind))
