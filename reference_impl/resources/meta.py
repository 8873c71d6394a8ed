"""Shared Kubernetes object parts: metadata, target references, label selectors."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

# RFC 1123 subdomain, as the API server checks metadata.name and namespaces.
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")

ObjectName = Annotated[str, StringConstraints(min_length=1, max_length=253)]
SectionName = Annotated[str, StringConstraints(min_length=1, max_length=253, pattern=DNS_SUBDOMAIN.pattern)]


class Model(BaseModel):
    """Base for spec structs: camelCase on the wire, unknown fields rejected like strict field validation."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class ObjectMeta(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)

    name: Annotated[str, StringConstraints(min_length=1, max_length=253)]
    namespace: str = "default"
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)

    @field_validator("name", "namespace")
    @classmethod
    def _dns_subdomain(cls, value: str) -> str:
        if not DNS_SUBDOMAIN.match(value):
            raise ValueError(
                "must be a lowercase RFC 1123 subdomain (lowercase alphanumerics, '-' or '.', "
                "starting and ending with an alphanumeric)"
            )
        return value


class LabelSelector(Model):
    match_labels: dict[str, str] = Field(alias="matchLabels")

    def matches(self, labels: dict[str, str]) -> bool:
        return all(labels.get(k) == v for k, v in self.match_labels.items())


class PolicyTargetRef(Model):
    """A LocalPolicyTargetReferenceWithSectionName: the target lives in the policy's namespace."""

    group: str = "gateway.networking.k8s.io"
    kind: str
    name: ObjectName
    section_name: SectionName | None = Field(default=None, alias="sectionName")
