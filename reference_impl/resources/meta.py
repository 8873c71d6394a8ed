"""Shared parts of the typed views: metadata, policy target references, label selectors.

Every view reads an object admission has already admitted (reference_impl.admission): the CRDs' own schemas and
rules are enforced there, so the views carry no validators; they ignore fields they do not use.
"""

from __future__ import annotations

import json

from pydantic import BaseModel, ConfigDict, Field

LABEL_SELECTOR_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


class Model(BaseModel):
    """Base for every view: camelCase on the wire, frozen, fields nobody reads ignored."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


class ObjectMeta(Model):
    name: str
    namespace: str = "default"
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class LabelSelectorRequirement(Model):
    key: str
    operator: str  # the CRDs admit any string; compile reports an operator it cannot apply
    values: tuple[str, ...] = ()

    def go_repr(self) -> str:
        """As Go's %v prints a metav1.LabelSelectorRequirement: `{key Op [v1 v2]}`."""
        return f"{{{self.key} {self.operator} [{' '.join(self.values)}]}}"


class LabelSelector(Model):
    match_labels: dict[str, str] = Field(default_factory=dict, alias="matchLabels")
    match_expressions: tuple[LabelSelectorRequirement, ...] = Field(default=(), alias="matchExpressions")

    def problem(self) -> str | None:
        """Why the selector cannot be applied (as Kubernetes' LabelSelectorAsSelector refuses it), or None."""
        for requirement in self.match_expressions:
            operator, values = requirement.operator, requirement.values
            if operator not in LABEL_SELECTOR_OPERATORS:
                return f'"{operator}" is not a valid label selector operator'
            bad = f"values: Invalid value: {_go_strings(values)}"
            if operator in ("In", "NotIn") and not values:
                return f"{bad}: for 'in', 'notin' operators, values set can't be empty"
            if operator in ("Exists", "DoesNotExist") and values:
                return f"{bad}: values set must be empty for exists and does not exist"
        return None

    def matches(self, labels: dict[str, str]) -> bool:
        """matchLabels and every matchExpressions requirement (ANDed). Call only when `problem()` is None."""
        if any(labels.get(k) != v for k, v in self.match_labels.items()):
            return False
        for requirement in self.match_expressions:
            present = requirement.key in labels
            if requirement.operator == "In":
                ok = present and labels[requirement.key] in requirement.values
            elif requirement.operator == "NotIn":
                ok = not present or labels[requirement.key] not in requirement.values
            elif requirement.operator == "Exists":
                ok = present
            else:
                ok = not present
            if not ok:
                return False
        return True

    def go_repr(self) -> str:
        """`(matchLabels: map[k:v ...], matchExpressions: [{key Op [values]} ...])`, Go's %v of both fields."""
        labels = " ".join(f"{k}:{v}" for k, v in sorted(self.match_labels.items()))
        expressions = " ".join(r.go_repr() for r in self.match_expressions)
        return f"(matchLabels: map[{labels}], matchExpressions: [{expressions}])"


def _go_strings(values: tuple[str, ...]) -> str:
    """A []string as Go's %#v prints it."""
    return "[]string{" + ", ".join(json.dumps(v, ensure_ascii=False) for v in values) + "}"


class PolicyTargetRef(Model):
    """A LocalPolicyTargetReferenceWithSectionName: the target lives in the policy's namespace."""

    group: str
    kind: str
    name: str
    section_name: str | None = Field(default=None, alias="sectionName")
