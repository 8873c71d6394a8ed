"""Two conformance targets driven in step: the same manifests through each one's own apply path, the same bytes.

Targets that take a `backends` option (the embedded ones) reach the raw echo upstream as their Service `httpbin`,
so the comparison sees the request line and every header; any other pair (a cluster) is compared through
httpbin's own echo.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from conformance.consistency import ConsistencySettings
from conformance.differential import wire
from conformance.differential.echo import EchoServer
from conformance.differential.model import Observation
from conformance.http import Client, RequestSpec
from conformance.profiles import PROFILES
from conformance.redact import REDACTOR
from conformance.targets import Target, TargetError, make_target

log = logging.getLogger(__name__)

#: Targets whose `backends` option maps a Service name to a URL on this machine.
ECHO_CAPABLE = frozenset({"reference", "envoy"})
Key = tuple[str, str, str]


def _key(manifest: Mapping[str, Any]) -> Key:
    meta = manifest.get("metadata") or {}
    return (str(manifest.get("kind")), str(meta.get("namespace", "default")), str(meta.get("name")))


def _with_backend(options: Mapping[str, Any], backend: str) -> dict[str, Any]:
    given = str(options.get("backends") or "")
    return {**options, "backends": ",".join(b for b in (given, backend) if b)}


class TargetPair:
    """`a` is the target under comparison, `b` the baseline whose behaviour scenarios state."""

    def __init__(
        self,
        names: tuple[str, str],
        options: tuple[Mapping[str, Any], Mapping[str, Any]],
        profile: str,
        consistency: ConsistencySettings | None = None,
        raw_echo: bool | None = None,
    ) -> None:
        """`raw_echo`: compare through the raw echo upstream (default: when both targets can reach it)."""
        self.names = names
        self.options = options
        self.profile = PROFILES[profile]
        self.consistency = consistency or ConsistencySettings()
        capable = all(name in ECHO_CAPABLE for name in names)
        if raw_echo and not capable:
            raise ValueError(f"only {' and '.join(sorted(ECHO_CAPABLE))} can reach the raw echo upstream")
        self.raw_echo = capable if raw_echo is None else raw_echo
        self.echo: EchoServer | None = None
        self.targets: list[Target] = []
        self.client = Client()
        self._loaded: dict[Key, dict[str, Any]] = {}

    @property
    def labels(self) -> tuple[str, str]:
        """Names that tell the two apart even when both are the same target: `reference#1(fault=x)`."""
        a, b = self.names
        if a != b:
            return a, b
        labels = []
        for index, options in enumerate(self.options):
            given = ",".join(f"{k}={v}" for k, v in options.items())
            labels.append(f"{self.names[index]}#{index + 1}" + (f"({given})" if given else ""))
        return labels[0], labels[1]

    def start(self) -> None:
        try:
            backend = ""
            if self.raw_echo:
                self.echo = EchoServer()
                backend = f"httpbin={self.echo.start()}"
            for name, options in zip(self.names, self.options, strict=True):
                settings = {**options, "profiles": self.profile.name, "consistency": self.consistency}
                target = make_target(name, _with_backend(settings, backend) if backend else settings)
                self.targets.append(target)  # closed by close() even if start() fails half-way
                try:
                    target.start()
                except Exception as error:
                    raise TargetError(f"target {name!r} could not start: {REDACTOR.redact(str(error))}") from error
        except BaseException:
            self.close()
            raise

    def load(self, manifests: list[dict[str, Any]]) -> None:
        """Make both targets hold exactly these manifests: delete what the last case had and this one has not."""
        wanted = {_key(m): m for m in manifests}
        stale = [m for k, m in self._loaded.items() if k not in wanted]
        self._loaded = {**self._loaded, **wanted}  # if an apply fails half-way, the next load still cleans up
        for target in self.targets:
            if stale:
                target.delete(stale)
            target.apply(manifests)
        for target in self.targets:
            target.wait_applied(manifests, self.consistency.max_time_to_consistency)
        self._loaded = wanted
        # New connections for the new configuration: on a connection kept alive across the change, Envoy was seen
        # answering with the previous one after reporting the new version applied (about one change in five).
        self.client.close()

    def send(self, request: RequestSpec) -> tuple[Observation, Observation]:
        port = request.listener_port or self.profile.listener_port
        a, b = (wire.send(self.client, target.base_url(port), request) for target in self.targets)
        return a, b

    def versions(self) -> dict[str, dict[str, str]]:
        return {label: target.versions() for label, target in zip(self.labels, self.targets, strict=False)}

    def close(self) -> None:
        self.client.close()
        targets, self.targets = self.targets, []
        for target in targets:
            try:
                target.close()
            except Exception as error:  # the other target and the echo still get closed
                log.warning("closing a target failed: %s", REDACTOR.redact(str(error)))
        self._loaded = {}
        if self.echo is not None:
            self.echo.stop()
            self.echo = None

    def __enter__(self) -> TargetPair:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
