"""Release versions as the pins and the tools write them ("v1.35.0", "v1.31", "v1.32.4-dispatcher", "0.31.0"),
compared by major.minor.patch; and the supported ranges of clusters/versions.yaml."""

from __future__ import annotations

import re
from dataclasses import dataclass

_VERSION = re.compile(r"v?(\d+)\.(\d+)(?:\.(\d+))?")


@dataclass(frozen=True, order=True)
class Version:
    major: int
    minor: int
    patch: int = 0

    @classmethod
    def find(cls, text: str) -> Version | None:
        """The first version in `text` (a tool's output, an image tag); pre-release and build suffixes are ignored."""
        match = _VERSION.search(text)
        if match is None:
            return None
        return cls(int(match.group(1)), int(match.group(2)), int(match.group(3) or 0))

    @classmethod
    def parse(cls, text: str, where: str) -> Version:
        """A version that must be one ("v1.5.1"); ValueError naming `where` otherwise."""
        found = cls.find(str(text)) if _VERSION.fullmatch(str(text).strip()) else None
        if found is None:
            raise ValueError(f"{where}: expected a version like v1.2.3, got {text!r}")
        return found

    @property
    def minor_line(self) -> str:
        return f"v{self.major}.{self.minor}"

    def __str__(self) -> str:
        return f"v{self.major}.{self.minor}.{self.patch}"


def image_version(image: str) -> Version | None:
    """The version in an image's tag: `kindest/node:v1.35.0@sha256:...` -> v1.35.0."""
    return Version.find(image.partition("@")[0].rpartition(":")[2])


@dataclass(frozen=True)
class VersionRange:
    """Supported minor versions, both ends included (`{min: v1.31, max: v1.35}`); no max means any newer one."""

    minimum: Version
    maximum: Version | None = None

    def contains(self, version: Version) -> bool:
        if (version.major, version.minor) < (self.minimum.major, self.minimum.minor):
            return False
        return self.maximum is None or (version.major, version.minor) <= (self.maximum.major, self.maximum.minor)

    def __str__(self) -> str:
        low = self.minimum.minor_line if self.maximum is not None else str(self.minimum)
        return f"{low} to {self.maximum.minor_line}" if self.maximum is not None else f">= {low}"
