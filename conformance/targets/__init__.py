"""Conformance targets, looked up by name. Imports are lazy so a target's extra dependencies stay optional."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from conformance.targets.base import PolicyCondition, Target, TargetError, TargetUnavailable
from conformance.targets.options import TargetOptions

TARGETS: Mapping[str, str] = {
    "reference": "conformance.targets.reference:ReferenceTarget",
    "envoy": "conformance.targets.envoy:EnvoyTarget",
    "kind": "conformance.targets.kind:KindTarget",
    "cluster": "conformance.targets.cluster:ClusterTarget",
    "local": "conformance.targets.local:LocalTarget",
}

__all__ = [
    "TARGETS",
    "PolicyCondition",
    "Target",
    "TargetError",
    "TargetOptions",
    "TargetUnavailable",
    "load_target",
    "make_target",
]


def load_target(name: str) -> type[Target]:
    """The Target class for a name; ValueError naming the choices for an unknown one."""
    spec = TARGETS.get(name)
    if spec is None:
        raise ValueError(f"unknown target {name!r}; expected one of {', '.join(TARGETS)}")
    module_name, _, class_name = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:  # an optional dependency of this target is not installed
        raise TargetUnavailable(f"target {name!r} needs a package that is not installed: {error.name}") from None
    target: type[Target] = getattr(module, class_name)
    return target


def make_target(name: str, options: Mapping[str, Any] | TargetOptions | None = None) -> Target:
    """The target, constructed with its typed options. ValueError naming a wrong option; TargetUnavailable with
    the reason it cannot run here."""
    target_class = load_target(name)
    parsed = target_class.Options.parse(options)
    reason = target_class.unavailable_reason(parsed)
    if reason:
        raise TargetUnavailable(reason)
    return target_class(parsed)
