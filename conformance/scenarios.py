"""What each scenario is (profile, feature, level, a stable id) and which scenarios a complete run must run.

A scenario's id is its feature file under features/ and line: `kgateway/query_source.feature:23`. Each example
of a Scenario Outline is a scenario of its own, identified by its row in the Examples table:
`kgateway/secret_selector.feature:54@62`. Ids never contain example values (those may be keys).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pytest_bdd.gherkin_parser import get_gherkin_document
from pytest_bdd.scenario import scenario_wrapper_template_registry  # how pytest-bdd itself maps items to scenarios

from conformance.profiles import FEATURES, PROFILES
from conformance.releases import Requirement, requirements

EXAMPLE_PARAMETER = "_pytest_bdd_example"  # pytest-bdd's parameter for Scenario Outline examples


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


@functools.lru_cache(maxsize=256)
def _document(path: str) -> Any:
    return get_gherkin_document(path)


def _scenarios(children: Iterable[Any], inherited: tuple[str, ...] = ()) -> Iterator[tuple[Any, tuple[str, ...]]]:
    for child in children:
        if getattr(child, "scenario", None):
            yield child.scenario, inherited
        elif getattr(child, "rule", None):
            tags = tuple(t.name.lstrip("@") for t in child.rule.tags)
            yield from _scenarios(child.rule.children, inherited + tags)


def example_lines(path: Path, scenario_line: int) -> list[int]:
    """The line of every example row of the Scenario Outline at `scenario_line`, in pytest-bdd's order."""
    for scenario, _ in _scenarios(_document(str(path)).feature.children):
        if scenario.location.line == scenario_line:
            return [row.location.line for examples in scenario.examples for row in examples.table_body or []]
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
    found: dict[str, ScenarioInfo] = {}
    for path in sorted(features_root.rglob("*.feature")):
        relative = path.relative_to(features_root).as_posix()
        feature = _document(str(path)).feature
        feature_tags = tuple(t.name.lstrip("@") for t in feature.tags)
        for scenario, rule_tags in _scenarios(feature.children):
            tags = feature_tags + rule_tags + tuple(t.name.lstrip("@") for t in scenario.tags)
            line = scenario.location.line
            where = f"{scenario.name!r} ({relative}:{line})"
            profile, feature_name = _tagged(tags, where)
            needs = _requirements(tags, profile, where)
            rows = example_lines(path, line) if scenario.examples else [None]
            for row in rows:
                info = ScenarioInfo(
                    scenario_id(relative, line, row), profile, feature_name, scenario.name, feature.name, row, needs
                )
                found[info.id] = info
    return found


def item_info(item: pytest.Item, features_root: Path) -> ScenarioInfo | None:
    """The scenario a pytest item runs, or None if it is not a conformance scenario."""
    obj = getattr(item, "obj", None)
    template = scenario_wrapper_template_registry.get(obj) if obj is not None else None
    if template is None:
        return None
    where = f"{template.name!r} ({item.nodeid})"
    profile, feature_name = _tagged((m.name for m in item.iter_markers()), where)
    rule_tags = template.rule.tags if template.rule is not None else set()
    needs = _requirements(sorted(template.tags | template.feature.tags | rule_tags), profile, where)
    path = Path(template.feature.filename)
    try:
        relative = path.resolve().relative_to(features_root.resolve()).as_posix()
    except ValueError:
        relative = path.name
    row = None
    callspec = getattr(item, "callspec", None)
    if callspec is not None and EXAMPLE_PARAMETER in callspec.indices:
        rows = example_lines(path, template.line_number)
        index = callspec.indices[EXAMPLE_PARAMETER]
        row = rows[index] if index < len(rows) else None
    return ScenarioInfo(
        scenario_id(relative, template.line_number, row),
        profile,
        feature_name,
        template.name,
        template.feature.name,
        row,
        needs,
    )


def rename_example(item: pytest.Item, info: ScenarioInfo) -> None:
    """pytest-bdd names an Outline example by its values (`test_x[key-N2Yw...]`), and a value may be a key.
    Name it by its row instead (`test_x[line-62]`), so no node id shown anywhere carries a key."""
    if info.example_line is None or "[" not in item.name:
        return
    params = f"line-{info.example_line}"
    item.name = f"{item.name[: item.name.index('[')]}[{params}]"
    nodeid = f"{item.nodeid[: item.nodeid.index('[')]}[{params}]"
    # Node ids have no public setter: pytest >= 9.1 keeps a structured id, older ones a string.
    if hasattr(item, "_id"):
        item._id = type(item._id).parse(nodeid)
    else:
        item._nodeid = nodeid
