"""Which collected scenarios run, and why the others do not.

A scenario of a profile the run did not choose, or not named by --run-scenarios, is deselected. One that runs but
cannot pass on this implementation (a profile the target does not implement, a feature it does not support, a
release that predates it) is NOT_SUPPORTED: pytest skips it, and the reason is kept here by node id, never carried
inside pytest's skip text. --skip-scenarios skips by name (counted as skipped).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pytest

from conformance.options import HarnessOptions
from conformance.profiles import PROFILES, feature_selected
from conformance.releases import VersionUnderTest, newer_features, version_gap
from conformance.scenarios import ScenarioInfo, item_info
from conformance.targets import TargetUnavailable, load_target
from conformance.targets.base import Target
from conformance.targets.options import TargetOptions

SKIPPED_BY_OPTION = "skipped by --skip-scenarios"


@dataclass
class TargetSupport:
    """What the chosen target says of itself before it starts."""

    target_class: type[Target] | None  # None: it cannot even load here (an optional dependency is missing)
    options: TargetOptions | None  # its typed options (None when it cannot load)
    profiles: frozenset[str]
    declared: set[str] | None  # the features it implements; None: every feature of its profiles

    @classmethod
    def of(cls, options: HarnessOptions) -> TargetSupport:
        try:
            target_class = load_target(options.target)
        except TargetUnavailable:
            return cls(None, None, frozenset(PROFILES), None)
        except ValueError as error:
            raise pytest.UsageError(f"--target: {error}") from None
        try:
            parsed = target_class.Options.parse(
                {**options.target_options, "profiles": options.profiles, "consistency": options.consistency}
            )
        except ValueError as error:
            raise pytest.UsageError(f"--target {options.target}: {error}") from None
        declared = target_class.supported_features
        profiles = target_class.profiles_for(parsed)
        return cls(target_class, parsed, profiles, set(declared) if declared is not None else None)

    def versions_under_test(self, options: HarnessOptions) -> dict[str, VersionUnderTest]:
        """The release each chosen profile is judged against: the one the target installs (the kind and cluster
        targets' pins), replaced by --implementation-version for the upstream project it names. A profile with
        neither is judged against the newest API (nothing gated)."""
        try:
            known = (
                self.target_class.implementation_versions(self.options) if self.target_class and self.options else {}
            )
        except ValueError as error:
            raise pytest.UsageError(f"--target {options.target}: {error}") from None
        found = {p: v for p, v in known.items() if p in options.profiles}
        given = str(options.implementation.get("version") or "").strip()
        if given:
            # Only an upstream project's own version is one of its releases; another gateway's version is not.
            project = str(options.implementation.get("project") or "").strip().lower().rsplit("/", 1)[-1]
            profiles = [p for p in options.profiles if project in ("", p)]
            if not project and len(profiles) > 1:
                raise pytest.UsageError(
                    "--implementation-version is one project's release: choose one --profile, or name the project "
                    "with --implementation-project (kgateway or agentgateway)"
                )
            found.update({p: VersionUnderTest(p, given, "--implementation-version") for p in profiles})
        return found


@dataclass
class Selection:
    options: HarnessOptions
    meta: dict[str, ScenarioInfo] = field(default_factory=dict)  # node id -> the scenario it runs
    not_supported: dict[str, str] = field(default_factory=dict)  # node id -> why it cannot pass here
    supported: dict[str, set[str]] = field(default_factory=dict)  # profile -> the features that can run
    under_test: dict[str, VersionUnderTest] = field(default_factory=dict)  # profile -> the release judged
    newer: dict[str, dict[str, str]] = field(default_factory=dict)  # profile -> features newer than it -> release
    deselected: int = 0

    def identify(self, items: list[pytest.Item]) -> None:
        """Which items are conformance scenarios, and which scenario each runs."""
        for item in items:
            info = item_info(item)
            if info is not None:
                self.meta[item.nodeid] = info

    def choose(self, items: list[pytest.Item], support: TargetSupport) -> list[pytest.Item]:
        """Deselect what this run does not cover and mark what it cannot run; returns the deselected items."""
        options = self.options
        chosen = options.supported_features if options.supported_features is not None else support.declared
        self.under_test = support.versions_under_test(options)
        for name in options.profiles:
            self.newer[name] = newer_features(name, self.under_test.get(name))
            self.supported[name] = {
                f
                for f in PROFILES[name].features
                if name in support.profiles
                and feature_selected(chosen, name, f)
                and not feature_selected(options.exempt_features, name, f)
                and f not in self.newer[name]
            }
        kept, deselected = [], []
        for item in items:
            info = self.meta.get(item.nodeid)
            if info is None:
                kept.append(item)
                continue
            if info.profile not in options.profiles or (
                options.run_scenarios and info.name not in options.run_scenarios
            ):
                deselected.append(item)
                continue
            kept.append(item)
            reason = self._not_supported(info, support)
            if reason is not None:
                self.not_supported[item.nodeid] = reason
                item.add_marker(pytest.mark.skip(reason=f"NOT_SUPPORTED: {reason}"))
            elif info.name in options.skip_scenarios:
                item.add_marker(pytest.mark.skip(reason=SKIPPED_BY_OPTION))
        items[:] = kept
        return deselected

    def _not_supported(self, info: ScenarioInfo, support: TargetSupport) -> str | None:
        gap = version_gap(info.profile, info.feature, info.requirements, self.under_test.get(info.profile))
        if info.profile not in support.profiles:
            return f"target {self.options.target!r} does not implement the {info.profile} profile"
        if gap and (info.feature in self.newer[info.profile] or info.feature in self.supported[info.profile]):
            return gap
        if info.feature not in self.supported[info.profile]:
            return f"feature {info.feature} is not supported by the implementation ({info.profile} profile)"
        return None

    def keep_only(self, kept: Mapping[str, object]) -> None:
        """What runs after every plugin had its say (-k, -m, --deselect)."""
        self.meta = {nodeid: info for nodeid, info in self.meta.items() if nodeid in kept}
