"""What each scenario is (profile, feature, level, a stable id) and which scenarios a complete run must run.

A scenario's id is its feature file under features/ and line: `kgateway/query_source.feature:23`. Each example
of a Scenario Outline is a scenario of its own, identified by its row in the Examples table:
`kgateway/secret_selector.feature:54@62`. Ids never contain example values (those may be keys).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from gherkin.parser import Parser  # the official Gherkin parser, which pytest-bdd uses too
from pytest_bdd import scenario

from conformance.profiles import FEATURES, PROFILES
from conformance.releases import Requirement, requirements

EXAMPLE_ID = re.compile(r"^line-(\d+)$")
# Test function -> (its features folder, the feature file relative to it, the scenario's line): filled by bind().
BOUND: dict[Callable[..., Any], tuple[Path, str, int]] = {}


@dataclass(frozen=True)
class ScenarioInfo:
    id: str
    profile: str
    feature: str
    name: str
    feature_title: str = ""  # the Gherkin `Feature:` line
    example_line: int | None = None
    requirements: tuple[Requirement, ...] = ()  # `@requires:` / `@since:` tags: releases it needs beyond its feature's

    @property
    def level(self) -> str:
        return "core" if self.feature in PROFILES[self.profile].core else "extended"


def scenario_id(relative_path: str, line: int, example_line: int | None = None) -> str:
    return f"{relative_path}:{line}" + (f"@{example_line}" if example_line is not None else "")


def _document(path: str) -> dict[str, Any]:
    return _parsed(path, Path(path).stat().st_mtime_ns)


@functools.lru_cache(maxsize=256)
def _parsed(path: str, _modified: int) -> dict[str, Any]:
    return Parser().parse(Path(path).read_text(encoding="utf-8"))


def _tags(node: dict[str, Any]) -> tuple[str, ...]:
    return tuple(tag["name"].lstrip("@") for tag in node.get("tags") or [])


def _scenarios(children: Iterable[dict[str, Any]], inherited: tuple[str, ...] = ()) -> Iterator[tuple[dict, tuple]]:
    for child in children:
        if child.get("scenario"):
            yield child["scenario"], inherited
        elif child.get("rule"):
            yield from _scenarios(child["rule"].get("children") or [], inherited + _tags(child["rule"]))


def steps(path: Path) -> Iterator[dict[str, Any]]:
    """Every step of a feature file (backgrounds, scenarios, rules), as the Gherkin parser gives it."""

    def walk(children: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for child in children:
            for part in (child.get("background"), child.get("scenario")):
                if part:
                    yield from part.get("steps") or []
            if child.get("rule"):
                yield from walk(child["rule"].get("children") or [])

    yield from walk(_document(str(path))["feature"]["children"])


def example_lines(path: Path, scenario_line: int) -> list[int]:
    """The line of every example row of the Scenario Outline at `scenario_line`, in the order of its tables."""
    for found, _ in _scenarios(_document(str(path))["feature"]["children"]):
        if found["location"]["line"] == scenario_line:
            return [
                row["location"]["line"] for examples in found.get("examples") or [] for row in examples["tableBody"]
            ]
    return []


def _tagged(tags: Iterable[str], where: str) -> tuple[str, str]:
    tags = list(tags)
    profiles = [t for t in tags if t in PROFILES]
    features = [t for t in tags if t in FEATURES]
    if len(profiles) != 1 or len(features) != 1:
        raise pytest.UsageError(
            f"scenario {where} must carry exactly one profile tag ({', '.join('@' + p for p in PROFILES)}) "
            f"and one feature tag; found {profiles + features}"
        )
    return profiles[0], features[0]


def _requirements(tags: Iterable[str], profile: str, where: str) -> tuple[Requirement, ...]:
    try:
        return requirements(tags, profile, where)
    except ValueError as error:
        raise pytest.UsageError(str(error)) from None


def catalogue(features_root: Path) -> dict[str, ScenarioInfo]:
    """Every scenario of every feature file (each Outline example on its own), by id."""
    files = tuple(sorted((str(p), p.stat().st_mtime_ns) for p in features_root.rglob("*.feature")))
    return _catalogue(features_root, files)


@functools.lru_cache(maxsize=8)
def _catalogue(features_root: Path, files: tuple[tuple[str, int], ...]) -> dict[str, ScenarioInfo]:
    found: dict[str, ScenarioInfo] = {}
    for name, _ in files:
        path = Path(name)
        relative = path.relative_to(features_root).as_posix()
        feature = _document(str(path))["feature"]
        for item, rule_tags in _scenarios(feature["children"]):
            tags = _tags(feature) + rule_tags + _tags(item)
            line = item["location"]["line"]
            where = f"{item['name']!r} ({relative}:{line})"
            profile, feature_name = _tagged(tags, where)
            needs = _requirements(tags, profile, where)
            rows = example_lines(path, line) if item.get("examples") else [None]
            for row in rows:
                info = ScenarioInfo(
                    scenario_id(relative, line, row), profile, feature_name, item["name"], feature["name"], row, needs
                )
                found[info.id] = info
    return found


def bind(namespace: MutableMapping[str, Any], features_root: Path) -> None:
    """A pytest test per scenario of the feature files under `features_root`, put in `namespace` (a test module's
    globals) with pytest-bdd's `scenario()`: `bind(globals(), Path(__file__).parent / "features")` runs a folder of
    your own scenarios with this harness. An Outline's examples are named by their row (`test_x[line-62]`), not by
    their values as pytest-bdd names them: a value may be a key, and node ids are shown everywhere."""
    outlines: dict[tuple[str, int], list[int]] = {}
    scenarios: dict[tuple[str, int], ScenarioInfo] = {}
    for info in catalogue(features_root).values():
        relative, _, rest = info.id.rpartition(":")
        line = int(rest.split("@")[0])
        scenarios.setdefault((relative, line), info)
        if info.example_line is not None:
            outlines.setdefault((relative, line), []).append(info.example_line)
    for (relative, line), info in scenarios.items():
        test = scenario(str(features_root / relative), info.name)(_nothing)
        rows = outlines.get((relative, line))
        if rows:
            test = _examples_named_by_row(test, rows, f"{relative}:{line}")
        namespace[_test_name(info.name, namespace)] = test
        BOUND[test] = (features_root, relative, line)


def _nothing() -> None:
    """The test body: the scenario's steps are the test."""


def _test_name(scenario_name: str, taken: MutableMapping[str, Any]) -> str:
    base = "test_" + (re.sub(r"\W+", "_", scenario_name.lower()).strip("_") or "scenario")
    name, number = base, 1
    while name in taken:
        number += 1
        name = f"{base}_{number}"
    return name


def _examples_named_by_row(test: Callable[..., Any], rows: list[int], where: str) -> Callable[..., Any]:
    """Re-parametrize pytest-bdd's Outline examples with ids `line-<row>` (same values, same marks)."""
    marks = list(getattr(test, "pytestmark", []))
    parametrize = [m for m in marks if m.name == "parametrize"]
    if len(parametrize) != 1 or len(parametrize[0].args) != 2 or len(parametrize[0].args[1]) != len(rows):
        raise pytest.UsageError(
            f"pytest-bdd no longer parametrizes the Scenario Outline {where} as this suite expects (one parametrize "
            f"mark with one value per example row, {len(rows)} here); check the pytest-bdd version against the "
            "one pyproject.toml allows"
        )
    argname, values = parametrize[0].args
    test.pytestmark = [m for m in marks if m is not parametrize[0]]  # type: ignore[attr-defined]
    params = [
        pytest.param(*value.values, id=f"line-{row}", marks=value.marks)
        for value, row in zip(values, rows, strict=True)
    ]
    return pytest.mark.parametrize(argname, params)(test)


def item_info(item: pytest.Item) -> ScenarioInfo | None:
    """The scenario a pytest item runs, or None if it is not a conformance scenario."""
    bound = BOUND.get(getattr(item, "obj", None))  # type: ignore[arg-type]
    if bound is None:
        return None
    features_root, relative, line = bound
    callspec = getattr(item, "callspec", None)
    row = None
    if callspec is not None:
        matched = EXAMPLE_ID.match(callspec.id)
        if matched is None:
            raise pytest.UsageError(f"{item.nodeid}: an Outline example must be named line-<row>; got {callspec.id!r}")
        row = int(matched[1])
    info = catalogue(features_root).get(scenario_id(relative, line, row))
    if info is None:
        raise pytest.UsageError(f"{item.nodeid}: no scenario {scenario_id(relative, line, row)} under {features_root}")
    return info
