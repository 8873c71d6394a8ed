"""Which upstream release first has each feature, and what an implementation version under test therefore lacks.

The facts live in `feature_releases.yaml` (one `since` per profile feature, and named `capabilities` finer than a
feature), each with its sources. A scenario that needs more than its feature says so with a tag:
`@requires:<capability>` or `@since:<profile>=<version>`. `version_gap` turns all that into the NOT_SUPPORTED
reason for one scenario, or None when the version under test has everything it needs.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources as importlib_resources
from typing import Any

import yaml

from conformance.profiles import PROFILES

SINCE_TAG = "since:"
REQUIRES_TAG = "requires:"
_RELEASE = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")


@functools.total_ordering
@dataclass(frozen=True)
class Release:
    """A release version, ordered as semantic versions order them: v1.4.0-rc.1 < v1.4.0 < v1.4.1."""

    major: int
    minor: int
    patch: int
    prerelease: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Release | None:
        """The release `text` names ("v1.4.0", "2.3.7", "v1.4.0-rc.1"), or None (a commit, a branch name)."""
        match = _RELEASE.match(str(text).strip())
        if match is None:
            return None
        major, minor, patch, pre = match.groups()
        return cls(int(major), int(minor), int(patch), tuple(pre.split(".")) if pre else ())

    def _key(self) -> tuple[Any, ...]:
        # A release sorts after its pre-releases; numeric identifiers sort before alphanumeric ones.
        pre = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.prerelease)
        return (self.major, self.minor, self.patch, not self.prerelease, pre)

    def __lt__(self, other: Release) -> bool:
        return self._key() < other._key()

    def __str__(self) -> str:
        return f"v{self.major}.{self.minor}.{self.patch}" + (f"-{'.'.join(self.prerelease)}" if self.prerelease else "")


@dataclass(frozen=True)
class FirstRelease:
    """What needs a release (a feature or capability name), the release that first has it, and where that was read."""

    name: str
    since: Release
    sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class Requirement:
    """A scenario's own minimum release beyond its feature's: from `@requires:` (named) or `@since:` (tag only)."""

    profile: str
    since: Release
    label: str  # the capability, or the tag itself

    def describe(self) -> str:
        return f"{self.label} first appears in {self.profile} {self.since}"


@dataclass(frozen=True)
class VersionUnderTest:
    """The implementation release a profile's scenarios are judged against, and where that version came from."""

    profile: str
    version: str
    source: str

    @property
    def release(self) -> Release | None:
        return Release.parse(self.version)


@dataclass(frozen=True)
class ProfileReleases:
    features: Mapping[str, FirstRelease]
    capabilities: Mapping[str, FirstRelease]


def _release(value: Any, where: str) -> Release:
    release = Release.parse(str(value))
    if release is None:
        raise ValueError(f"{where}: expected a release version like v1.2.3, got {value!r}")
    return release


def _entry(name: str, data: Mapping[str, Any], where: str) -> FirstRelease:
    sources = tuple(f"{s['fact']} ({s['from']})" for s in data.get("sources") or ())
    if not sources:
        raise ValueError(f"{where}: every first release needs its sources")
    return FirstRelease(data.get("description") or name, _release(data.get("since"), f"{where}.since"), sources)


def parse_releases(data: Mapping[str, Any], where: str = "feature_releases.yaml") -> dict[str, ProfileReleases]:
    """The releases file, checked: every profile feature has a first release, and nothing else is named."""
    parsed: dict[str, ProfileReleases] = {}
    for profile_name, profile in PROFILES.items():
        section = data.get(profile_name) or {}
        features = section.get("features") or {}
        unknown = sorted(set(features) - set(profile.features))
        missing = [f for f in profile.features if f not in features]
        if unknown or missing:
            raise ValueError(
                f"{where}: {profile_name}.features must list exactly the profile's features"
                + (f"; missing {', '.join(missing)}" if missing else "")
                + (f"; not features of the profile: {', '.join(unknown)}" if unknown else "")
            )
        parsed[profile_name] = ProfileReleases(
            features={f: _entry(f, features[f], f"{where}: {profile_name}.features.{f}") for f in profile.features},
            capabilities={
                name: _entry(name, value, f"{where}: {profile_name}.capabilities.{name}")
                for name, value in (section.get("capabilities") or {}).items()
            },
        )
    return parsed


@functools.cache
def releases() -> dict[str, ProfileReleases]:
    text = importlib_resources.files("conformance").joinpath("feature_releases.yaml").read_text("utf-8")
    return parse_releases(yaml.safe_load(text))


def requirements(tags: Iterable[str], profile: str, where: str) -> tuple[Requirement, ...]:
    """The `@requires:` and `@since:` tags of a scenario (its own, its Rule's and its Feature's). ValueError naming
    `where` for a malformed tag, an unknown capability, or a minimum for another profile."""
    found = []
    for tag in tags:
        if tag.startswith(SINCE_TAG):
            name, sep, version = tag.removeprefix(SINCE_TAG).partition("=")
            release = Release.parse(version) if sep else None
            if name not in PROFILES or release is None:
                raise ValueError(
                    f"{where}: tag @{tag}: expected @since:<profile>=<version>, e.g. @since:kgateway=v2.2.0"
                )
            if name != profile:
                raise ValueError(f"{where}: tag @{tag} names profile {name}, but the scenario is a {profile} scenario")
            found.append(Requirement(profile, release, f"@{tag}"))
        elif tag.startswith(REQUIRES_TAG):
            name = tag.removeprefix(REQUIRES_TAG)
            capability = releases()[profile].capabilities.get(name)
            if capability is None:
                known = ", ".join(sorted(releases()[profile].capabilities)) or "none"
                raise ValueError(f"{where}: tag @{tag}: unknown {profile} capability {name!r} (known: {known})")
            found.append(Requirement(profile, capability.since, capability.name))
    return tuple(found)


def is_version_tag(tag: str) -> bool:
    return tag.startswith((SINCE_TAG, REQUIRES_TAG))


def newer_features(profile: str, under_test: VersionUnderTest | None) -> dict[str, str]:
    """Feature -> its first release, for the profile's features that the version under test predates."""
    release = under_test.release if under_test is not None else None
    if release is None:
        return {}
    firsts = releases()[profile].features
    return {f: str(firsts[f].since) for f in PROFILES[profile].features if release < firsts[f].since}


def version_gap(
    profile: str, feature: str, scenario_requirements: Iterable[Requirement], under_test: VersionUnderTest | None
) -> str | None:
    """Why the version under test cannot run this scenario (its feature or one of its requirements is newer), or
    None. An unknown version, or one that is not a release (a commit), gates nothing."""
    release = under_test.release if under_test is not None else None
    if under_test is None or release is None:
        return None
    feature_first = Requirement(profile, releases()[profile].features[feature].since, f"feature {feature}")
    for requirement in (feature_first, *scenario_requirements):
        if release < requirement.since:
            return f"{requirement.describe()}; the implementation under test is {under_test.version}"
    return None
