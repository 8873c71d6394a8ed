"""Every CEL rule of every vendored CRD compiles with cel-python, and every function the rules call is there."""

from __future__ import annotations

import re

import celpy
import pytest

from reference_impl.admission import RELEASES, admit, cel
from reference_impl.admission.catalog import load

STANDARD = {
    "has",
    "size",
    "all",
    "exists",
    "exists_one",
    "filter",
    "map",
    "matches",
    "startsWith",
    "endsWith",
    "contains",
    "duration",
    "timestamp",
    "type",
    "int",
    "uint",
    "double",
    "string",
    "bool",
    "dyn",
}
CALL = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(")


def _rules(schema: dict) -> list[dict]:
    found = list(schema.get("x-kubernetes-validations") or [])
    for sub in (schema.get("properties") or {}).values():
        found += _rules(sub)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            found += _rules(schema[key])
    for sub in schema.get("allOf") or []:
        found += _rules(sub)
    return found


RULES = sorted(
    {
        rule["rule"]
        for project, releases in RELEASES.items()
        for release in releases
        for version in load(project, release).values()
        for rule in _rules(version.schema)
    }
)


def test_there_are_rules_to_check():
    assert len(RULES) > 150


def test_every_rule_compiles_and_calls_only_known_functions():
    unknown = set()
    for rule in RULES:
        assert isinstance(cel.program(rule), celpy.Runner)
        unknown |= set(CALL.findall(re.sub(r"'[^']*'|\"[^\"]*\"", "''", rule))) - STANDARD - set(cel.FUNCTIONS)
    assert unknown == set()


@pytest.mark.parametrize(
    ("rule", "value", "expected"),
    [
        ("quantity(self).isGreaterThan(quantity('0')) && quantity(self).isLessThan(quantity('4Gi'))", "1Mi", True),
        ("quantity(self).isLessThan(quantity('4Gi'))", "5Gi", False),
        ("quantity(self).isGreaterThan(quantity('1500m'))", "2", True),
        ("self.indexOf('*') == 2 && self.lastIndexOf('.') == 4", "ab*c.d", True),
        ("self.split('/')[0].size() < 3", "ab/cd", True),
        ("self.lowerAscii() == 'websocket'", "WebSocket", True),
    ],
)
def test_kubernetes_extension_functions(rule, value, expected):
    assert cel.program(rule).evaluate({"self": cel.to_cel(value, {"type": "string"})}) == expected


def test_reserved_property_names_are_escaped():
    assert cel.escape("namespace") == "__namespace__"
    assert cel.escape("a-b.c") == "a__dash__b__dot__c"
    assert cel.escape("1x") is None
    route = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "r"},
        "spec": {
            "parentRefs": [{"name": "gw", "namespace": "a"}, {"name": "gw", "namespace": "a", "sectionName": "s"}]
        },
    }
    with pytest.raises(Exception, match="sectionName must be specified when parentRefs includes 2 or more references"):
        admit(route)
