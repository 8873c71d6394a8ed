"""The one interface every conformance target implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable

from conformance.releases import VersionUnderTest
from conformance.targets.options import TargetOptions


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
    user would `kubectl apply`. Harness code drives a target through conformance.client.TargetClient.

    Constructed as `TargetClass(options)`: its typed `Options` model, or a mapping of `--target-option` strings
    (and values already typed) that the model parses.
    """

    #: Name used with --target.
    name: str = ""
    #: One line for `apikey-conformance targets`.
    summary: str = ""
    #: The typed settings this target takes: the single source of their names, defaults and help.
    Options: ClassVar[type[TargetOptions]] = TargetOptions
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
    #: Why no request can be sent through this target (a control plane without its data plane), or None. The
    #: suite then checks only what the control plane reports, and no scenario whose requests were not sent passes.
    traffic_unavailable: str | None = None

    def __init__(self, options: Mapping[str, Any] | TargetOptions | None = None) -> None:
        self.options = self.Options.parse(options)

    @classmethod
    def profiles_for(cls, options: TargetOptions) -> frozenset[str]:
        """The profiles a run with these options can serve (default: every profile of the target)."""
        return cls.profiles

    @classmethod
    def unavailable_reason(cls, options: Mapping[str, Any] | TargetOptions) -> str | None:
        """Why this target cannot run here, or None. Checked before start(); never starts anything."""
        return None

    @classmethod
    def implementation_versions(cls, options: Mapping[str, Any] | TargetOptions) -> dict[str, VersionUnderTest]:
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

    def wait_deleted(self, manifests: list[dict[str, Any]], timeout: float) -> None:
        """Block until the objects the manifests name are gone and the implementation has acted on that (default:
        as after an apply: the target's current configuration is in force)."""
        self.wait_applied([], timeout)

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Target:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- what some targets can do besides the interface above: declared, so callers ask `isinstance`, not getattr --
@runtime_checkable
class ReportsDivergences(Protocol):
    """Knows where it differs from SPEC on purpose; the report publishes these."""

    known_divergences: list[dict[str, str]]


@runtime_checkable
class HasAdmin(Protocol):
    """Serves an admin endpoint (/status, /stats, /config, /ready)."""

    @property
    def admin_url(self) -> str | None: ...


@runtime_checkable
class CountsRequests(Protocol):
    """Counts allowed and denied requests itself (Envoy's api_key_auth counters)."""

    def stats(self) -> dict[str, int]: ...


@runtime_checkable
class HasEnvoyConfig(Protocol):
    """Serves a listener with a real Envoy whose applied configuration (admin `/config_dump`) can be read."""

    def envoy_config(self, listener_port: int) -> dict[str, Any]: ...


@runtime_checkable
class HasAgentgatewayXds(Protocol):
    """Runs agentgateway's controller and can read what it serves a Gateway's proxies over xDS (protojson)."""

    def agentgateway_xds(self, namespace: str, gateway: str) -> dict[str, Any]: ...


@runtime_checkable
class HasStore(Protocol):
    """Holds its resources in a reference_impl Store that can be read directly."""

    @property
    def store(self) -> Any: ...


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
