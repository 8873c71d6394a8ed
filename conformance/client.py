"""The one way to drive a target: apply, delete and wait; keys registered with the redactor before anything can
show them; requests sent, and expectations held the Gateway API way.

The suite's steps, the notebooks' Playground, the differential runs and the benchmarks all go through a
TargetClient. Like the Gateway API suite's single applier and its "expect eventually consistent response", it is
the only place that knows how a change is applied and when an answer counts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any, TypeVar

from conformance.consistency import ConsistencySettings, eventually
from conformance.http import Client, Exchange, RequestSpec, send
from conformance.objects import CreationOrdered, ObjectKey
from conformance.redact import REDACTOR, Redactor
from conformance.targets.base import PolicyCondition, Target

T = TypeVar("T")
Manifest = dict[str, Any]


def settings_for(target: Target, settings: ConsistencySettings) -> ConsistencySettings:
    """A target that confirms a change is applied needs no pause between matching answers."""
    if target.confirms_applied and settings.interval_between_matches is None:
        return replace(settings, interval_between_matches=0.0)
    return settings


class TargetClient:
    """Drives one started target. `observe` is told of every exchange (the suite attaches them to allure).
    `redactor`: where the keys of applied manifests are registered; None for a caller that registers only what it
    publishes (the differential generates thousands of short keys, which would redact text that resembles one)."""

    def __init__(
        self,
        target: Target,
        settings: ConsistencySettings | None = None,
        *,
        redactor: Redactor | None = REDACTOR,
        observe: Callable[[Exchange], None] | None = None,
        default_listener: int | None = None,
    ) -> None:
        self.target = target
        self.settings = settings_for(target, settings or ConsistencySettings())
        self.redactor = redactor
        self.observe = observe
        self.default_listener = default_listener
        self.http = Client()
        self.applied: CreationOrdered[Manifest] = CreationOrdered()
        # The exchanges of the current request since the world last changed, in order: an expectation that holds
        # for the last N of them has N consecutive matches already (the upstream suite checks every expectation on
        # each response); a new request, an apply or a delete starts the list again.
        self._since_change: list[Exchange] = []
        self._request: RequestSpec | None = None

    @property
    def name(self) -> str:
        return self.target.name

    # -- resources ----------------------------------------------------------------------------------------
    def apply(self, manifests: list[Manifest]) -> list[tuple[ObjectKey, bool]]:
        """Create or update the resources and wait until the target has acted on them. Every key they hold is
        registered first. Returns each object's key and whether it is new. ValueError if the target rejects one."""
        self._register(manifests)
        self._since_change = []
        self.target.apply(manifests)
        changes = [(key, self.applied.put(key, manifest)) for key, manifest in self._keyed(manifests)]
        self.target.wait_applied(manifests, self.settings.max_time_to_consistency)
        return changes

    def delete(self, manifests: list[Manifest]) -> list[ObjectKey]:
        """Delete the resources the manifests name (absent ones are ignored) and wait until that took effect."""
        self._since_change = []
        self.target.delete(manifests)
        keys = [key for key, _ in self._keyed(manifests)]
        for key in keys:
            self.applied.pop(key)
        self.target.wait_deleted(manifests, self.settings.max_time_to_consistency)
        return keys

    def load(self, manifests: list[Manifest]) -> None:
        """Make the target hold exactly these manifests: what was applied before and is not among them is deleted,
        the rest applied, then one wait for all of it."""
        keyed = self._keyed(manifests)
        wanted = {key for key, _ in keyed}
        stale = [m for key in self.applied if key not in wanted and (m := self.applied.get(key)) is not None]
        self._register(manifests)
        self._since_change = []
        if stale:
            self.target.delete(stale)
            for key, _ in self._keyed(stale):
                self.applied.pop(key)
        self.target.apply(manifests)
        for key, manifest in keyed:
            self.applied.put(key, manifest)
        self.target.wait_applied(manifests, self.settings.max_time_to_consistency)

    def reset(self) -> None:
        """Delete everything applied (the target's own clean-up: also what it created for the scenario)."""
        self._since_change = []
        self.applied.clear()
        self.target.reset()

    def _register(self, manifests: list[Manifest]) -> None:
        if self.redactor is not None:
            self.redactor.add_manifests(manifests)

    def _keyed(self, manifests: Iterable[Mapping[str, Any]]) -> list[tuple[ObjectKey, Manifest]]:
        return [(ObjectKey.of(m), dict(m)) for m in manifests]

    # -- requests -----------------------------------------------------------------------------------------
    def present(self, spec: RequestSpec) -> RequestSpec:
        """The request as it will be sent: a presented credential known only by its hash (agentgateway keyHash)
        registered as a key, and the default listener filled in."""
        if self.redactor is not None:
            self.redactor.add_presented(value for _, value in (*spec.headers, *spec.query, *spec.cookies))
        if spec.listener_port is None and self.default_listener is not None:
            spec = replace(spec, listener_port=self.default_listener)
        return spec

    def base_url(self, listener_port: int | None = None) -> str:
        port = listener_port if listener_port is not None else self.default_listener
        if port is None:
            raise ValueError("a listener port is needed: this client has no default listener")
        return self.target.base_url(port)

    def send(self, spec: RequestSpec) -> Exchange:
        """Send one request once."""
        spec = self.present(spec)
        exchange = send(self.http, self.base_url(spec.listener_port), spec)
        if self.observe is not None:
            self.observe(exchange)
        if spec != self._request:
            self._request, self._since_change = spec, []
        self._since_change.append(exchange)
        return exchange

    def expect(self, spec: RequestSpec, check: Callable[[Exchange], str | None]) -> Exchange:
        """Re-send the request until `check` (None = holds, else why not) holds for the required consecutive
        answers; the answers to the same request since the last change that already satisfy it count. Messages
        are redacted before anyone sees them."""
        spec = self.present(spec)
        checked = self.redacted(check)
        needed = self.settings.required_consecutive_successes
        matched: list[Exchange] = []
        if spec == self._request:
            for exchange in reversed(self._since_change):
                if len(matched) == needed or checked(exchange) is not None:
                    break
                matched.append(exchange)
        if matched and self.observe is not None:
            for exchange in reversed(matched):
                self.observe(exchange)
        if len(matched) == needed:
            return matched[0]
        return eventually(lambda: self.send(spec), checked, self.settings, matched=len(matched))

    def eventually(self, attempt: Callable[[], T], check: Callable[[T], str | None]) -> T:
        """Any other expectation (a status condition, a counter), under the same consistency rule."""
        return eventually(attempt, self.redacted(check), self.settings)

    def redacted(self, check: Callable[[T], str | None]) -> Callable[[T], str | None]:
        """Failure messages quote what was received; a key in them is replaced before anyone sees it."""

        redactor = self.redactor or REDACTOR

        def wrapped(value: T) -> str | None:
            problem = check(value)
            return redactor.redact(problem) if problem else None

        return wrapped

    # -- status -------------------------------------------------------------------------------------------
    def condition(self, kind: str, namespace: str, name: str, *, wait: bool = False) -> PolicyCondition | None:
        """The policy's `Accepted` condition; with `wait`, until the implementation has set one."""

        def read() -> PolicyCondition | None:
            return self.target.policy_condition(kind, namespace, name)

        if not wait:
            return read()
        return eventually(
            read,
            lambda c: None if c is not None else f"{kind} {namespace}/{name} has no Accepted condition",
            replace(self.settings, required_consecutive_successes=1),
        )

    # -- life cycle ---------------------------------------------------------------------------------------
    def close(self) -> None:
        """Close this client's connections (the target is its owner's to close)."""
        self.http.close()

    def new_connections(self) -> None:
        """Start over with new connections: on a connection kept alive across a change, Envoy was seen answering
        with the previous configuration after reporting the new version applied (about one change in five)."""
        self.http.close()
