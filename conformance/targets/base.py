"""The one interface every conformance target implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from conformance.releases import VersionUnderTest


class TargetUnavailable(Exception):
    """The target cannot run on this machine (no Docker, no cluster, no binary). The message is the skip reason."""


class TargetError(RuntimeError):
    """The target could not do what the harness asked (apply configuration, stay up). The scenario it happened
    in is reported as an infrastructure error of the target, not as a conformance failure of its feature."""


@dataclass(frozen=True)
class PolicyCondition:
    type: str
    status: str
    reason: str
    message: str


class Target(ABC):
    """A gateway under test.

    Life cycle: `start()` once per session, `apply()` / `delete()` per scenario, `reset()` between scenarios,
    `close()` at the end. Manifests are plain dicts (decoded YAML), so every target receives exactly what a
    user would `kubectl apply`.
    """

    #: Name used with --target.
    name: str = ""
    #: Profiles this target can run ("kgateway", "agentgateway").
    profiles: frozenset[str] = frozenset()
    #: Features it implements (names from conformance.profiles.FEATURES); None = every feature of its profiles.
    supported_features: frozenset[str] | None = None
    #: True when apply() has taken full effect by the time it returns (no propagation to wait for).
    applies_synchronously: bool = False
    #: True when wait_applied() returns only once the data plane answers with the new configuration (a snapshot
    #: generation, an xDS version the proxy acknowledged). Consecutive matching answers then need no pause between
    #: them; a target that cannot confirm this (a cluster) keeps Gateway API's poll interval.
    confirms_applied: bool = False

    @classmethod
    def unavailable_reason(cls, options: Mapping[str, Any]) -> str | None:
        """Why this target cannot run here, or None. Checked before start(); never starts anything."""
        return None

    @classmethod
    def implementation_versions(cls, options: Mapping[str, Any]) -> dict[str, VersionUnderTest]:
        """Profile -> the implementation release this target runs, when that is known before it starts (the
        releases the kind and cluster targets install); empty when it is not. Never starts anything."""
        return {}

    @abstractmethod
    def start(self) -> None: ...

    @abstractmethod
    def apply(self, manifests: list[dict[str, Any]]) -> None:
        """Create or update the resources. Raises ValueError with the API's message if they are rejected."""

    @abstractmethod
    def delete(self, manifests: list[dict[str, Any]]) -> None:
        """Delete the resources named by the manifests; absent ones are ignored."""

    @abstractmethod
    def reset(self) -> None:
        """Delete everything applied since start(), so the next scenario starts clean."""

    @abstractmethod
    def base_url(self, listener_port: int) -> str:
        """Where to send requests for a Gateway listener port, e.g. "http://127.0.0.1:41234"."""

    @abstractmethod
    def policy_condition(self, kind: str, namespace: str, name: str) -> PolicyCondition | None:
        """The policy's `Accepted` condition as the implementation reports it, or None if not (yet) set."""

    def versions(self) -> dict[str, str]:
        """Every version involved in this run, for the report: the implementation's build, and on cluster targets
        the chart and CRD versions installed. Called after start(); keys are short names (`envoy`, `kgateway`)."""
        return {}

    def gateway_api(self) -> tuple[str, str]:
        """(version, channel) of the Gateway API resources this target serves, Gateway API's `gatewayAPIVersion`
        and `gatewayAPIChannel`; "UNDEFINED" where it cannot tell (Gateway API's own word for that)."""
        return "UNDEFINED", "UNDEFINED"

    def wait_applied(self, manifests: list[dict[str, Any]], timeout: float) -> None:
        """Block until the implementation has acted on the manifests (default: nothing to wait for)."""
        return None

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Target:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def pinned_gateway_api() -> tuple[str, str]:
    """(version, channel) of the Gateway API release the project pins in clusters/versions.yaml: the resources
    the embedded targets (reference, envoy) serve are written against it."""
    from conformance.kube.recipes import load_recipes

    recipes = load_recipes()
    channel = "experimental" if "experimental" in recipes.gateway_api_manifest else "standard"
    return recipes.gateway_api_version, channel


def suite_version() -> str:
    """This project's version (the reference gateway's and the harness's)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("apikey-conformance")
    except PackageNotFoundError:
        return "UNDEFINED"


# Targets are constructed as `TargetClass(options)`, where options is a mapping of settings from the
# plugin (--target-option KEY=VALUE and the standard ones: "profiles", "consistency", "work_dir").
