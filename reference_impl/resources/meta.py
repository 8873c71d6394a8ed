"""Shared Kubernetes object parts: metadata, target references, label selectors."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

# RFC 1123 subdomain, as the API server checks metadata.name and namespaces.
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# A label name (after any prefix) or value: at most 63 characters.
LABEL_PART = re.compile(r"^(?=.{1,63}$)[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")

ObjectName = Annotated[str, StringConstraints(min_length=1, max_length=253)]
SectionName = Annotated[str, StringConstraints(min_length=1, max_length=253, pattern=DNS_SUBDOMAIN.pattern)]


class Model(BaseModel):
    """Base for spec structs: camelCase on the wire, unknown fields rejected like strict field validation."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True, strict=True)


class ObjectMeta(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True, strict=True)

    name: Annotated[str, StringConstraints(min_length=1, max_length=253)]
    namespace: str = "default"
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)

    @field_validator("labels")
    @classmethod
    def _label_syntax(cls, labels: dict[str, str]) -> dict[str, str]:
        for key, value in labels.items():
            prefix, _, name = key.rpartition("/")
            if (prefix and (len(prefix) > 253 or not DNS_SUBDOMAIN.match(prefix))) or not LABEL_PART.match(name):
                raise ValueError(
                    f"label key {key!r}: an optional DNS subdomain prefix and '/', then at most 63 alphanumerics, "
                    "'-', '_' or '.', starting and ending with an alphanumeric"
                )
            if value and not LABEL_PART.match(value):
                raise ValueError(
                    f"label {key!r}: the value must be empty or at most 63 alphanumerics, '-', '_' or '.', "
                    "starting and ending with an alphanumeric"
                )
        return labels

    @field_validator("name")
    @classmethod
    def _dns_subdomain(cls, value: str) -> str:
        if not DNS_SUBDOMAIN.match(value):
            raise ValueError(
                "must be a lowercase RFC 1123 subdomain (lowercase alphanumerics, '-' or '.', "
                "starting and ending with an alphanumeric)"
            )
        return value

    @field_validator("namespace")
    @classmethod
    def _dns_label(cls, value: str) -> str:
        if len(value) > 63 or not DNS_LABEL.match(value):
            raise ValueError(
                "must be a lowercase RFC 1123 label (at most 63 lowercase alphanumerics or '-', "
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
