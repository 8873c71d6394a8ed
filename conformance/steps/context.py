"""The per-scenario context the steps share: target, profile, the current request and its latest exchange."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from conformance.consistency import ConsistencySettings, eventually
from conformance.http import Client, Exchange, RequestSpec, send
from conformance.profiles import PROFILES, Profile
from conformance.redact import REDACTOR
from conformance.targets.base import Target

# Response headers that differ on every answer without saying anything about the behaviour under test.
VOLATILE_HEADERS = frozenset({"date", "x-envoy-upstream-service-time"})

try:
    import allure
except ImportError:  # allure is optional: without it nothing is attached
    allure = None


@dataclass
class ScenarioContext:
    target: Target
    profile: Profile
    settings: ConsistencySettings
    client: Client = field(default_factory=Client)
    request: RequestSpec | None = None
    exchange: Exchange | None = None
    applied: list[dict[str, Any]] = field(default_factory=list)
    _attached: list[Any] = field(default_factory=list, repr=False)
    # The exchanges of the current request since the world last changed, in order: an expectation that holds for
    # the last N of them has N consecutive matches already (the upstream suite checks every expectation on each
    # response); a new request, an apply or a delete starts the list again.
    _since_change: list[Exchange] = field(default_factory=list, repr=False)

    def __repr__(self) -> str:
        # Shown wherever a plugin records step arguments: short, and without object addresses.
        return f"ScenarioContext(target={self.target.name!r}, profile={self.profile.name!r})"

    def apply(self, manifests: list[dict[str, Any]]) -> None:
        self._since_change = []
        REDACTOR.add_manifests(manifests)
        self.target.apply(manifests)
        self.applied.extend(manifests)
        self.target.wait_applied(manifests, self.settings.max_time_to_consistency)

    def delete(self, manifests: list[dict[str, Any]]) -> None:
        self._since_change = []
        self.target.delete(manifests)

    def set_request(self, spec: RequestSpec) -> None:
        for _, value in spec.headers:
            _register_presented(value)
        for _, value in (*spec.query, *spec.cookies):
            _register_presented(value)
        if spec.listener_port is None:
            spec = replace(spec, listener_port=self.profile.listener_port)
        self.request = spec
        self.exchange = None
        self._since_change = []

    def send(self) -> Exchange:
        assert self.request is not None, "a When step must send a request first"
        assert self.request.listener_port is not None
        base_url = self.target.base_url(self.request.listener_port)
        exchange = send(self.client, base_url, self.request)
        self._attach(exchange)
        self.exchange = exchange
        self._since_change.append(exchange)
        return exchange

    def _attach(self, exchange: Exchange) -> None:
        """One allure attachment per distinct response in a step: the consistency loop's identical repeats add
        nothing for a reader (a `date` header alone does not make a response distinct)."""
        if allure is None:
            return
        fingerprint = (
            exchange.status,
            exchange.body,
            sorted((k, v) for k, v in exchange.headers.items() if k not in VOLATILE_HEADERS),
        )
        if fingerprint in self._attached:
            return
        self._attached.append(fingerprint)
        allure.attach(
            REDACTOR.redact(exchange.describe()),
            name=f"{exchange.request.method} {exchange.request.path} -> {exchange.status}",
            attachment_type=allure.attachment_type.TEXT,
        )

    def expect(self, check: Callable[[Exchange], str | None]) -> Exchange:
        """Re-send the scenario's request until `check` holds for the required consecutive attempts; the latest
        exchanges since the last change that already satisfy it count towards them."""
        self._attached = []  # each expectation shows the responses it saw
        checked = _redacted(check)
        needed = self.settings.required_consecutive_successes
        matched: list[Exchange] = []
        for exchange in reversed(self._since_change):
            if len(matched) == needed or checked(exchange) is not None:
                break
            matched.append(exchange)
        for exchange in reversed(matched):
            self._attach(exchange)
        if len(matched) == needed:
            self.exchange = matched[0]
        else:
            self.exchange = eventually(self.send, checked, self.settings, matched=len(matched))
        return self.exchange

    def eventually(self, attempt: Callable[[], Any], check: Callable[[Any], str | None]) -> Any:
        return eventually(attempt, _redacted(check), self.settings)


def _redacted(check: Callable[[Any], str | None]) -> Callable[[Any], str | None]:
    """Failure messages quote what was received; a key in them is replaced before anyone sees it."""

    def wrapped(value: Any) -> str | None:
        problem = check(value)
        return REDACTOR.redact(problem) if problem else None

    return wrapped


def _register_presented(value: str) -> None:
    """A presented credential known only by its hash (agentgateway keyHash) is registered as a key."""
    for candidate in {value, value.partition(" ")[2]}:
        if candidate:
            REDACTOR.add_if_hashed_key(candidate)


@pytest.fixture
def scenario_context(request: pytest.FixtureRequest, conformance_target: Target) -> Iterator[ScenarioContext]:
    harness = request.config.stash[_harness_key()]
    meta = harness.meta.get(request.node.nodeid)
    profile = PROFILES[meta.profile] if meta else PROFILES["kgateway"]
    settings = harness.options.consistency
    if conformance_target.confirms_applied and settings.interval_between_matches is None:
        settings = replace(settings, interval_between_matches=0.0)
    context = ScenarioContext(conformance_target, profile, settings)
    try:
        yield context
    finally:
        context.client.close()
        conformance_target.reset()  # also after a failure: the next scenario starts clean


def _harness_key() -> pytest.StashKey[Any]:
    from conformance.plugin import HARNESS_KEY

    return HARNESS_KEY
