"""The per-scenario context the steps share: the target client, the profile, the request and its latest exchange."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from conformance.client import TargetClient
from conformance.http import Exchange, RequestSpec
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
    """What a scenario's steps share: the client that drives the target, the profile, the scenario's request and
    its latest answer. Every exchange is attached to allure (once per distinct response in a step)."""

    client: TargetClient
    profile: Profile
    request: RequestSpec | None = None
    exchange: Exchange | None = None
    #: Request and response steps passed over because the target cannot send requests (Target.traffic_unavailable).
    not_sent: int = 0
    #: Steps that checked what the control plane reports (policy status), for a status-only run's report.
    status_checked: int = 0
    _attached: list[Any] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self.client.observe = self._attach
        if self.client.default_listener is None:
            self.client.default_listener = self.profile.listener_port

    def __repr__(self) -> str:
        # Shown wherever a plugin records step arguments: short, and without object addresses.
        return f"ScenarioContext(target={self.target.name!r}, profile={self.profile.name!r})"

    @property
    def target(self) -> Target:
        return self.client.target

    def apply(self, manifests: list[dict[str, Any]]) -> None:
        self.client.apply(manifests)

    def delete(self, manifests: list[dict[str, Any]]) -> None:
        self.client.delete(manifests)

    def set_request(self, spec: RequestSpec) -> None:
        self.request = self.client.present(spec)
        self.exchange = None

    def send(self) -> Exchange | None:
        """Send the scenario's request once (None, and counted as not sent, where the target cannot send one)."""
        assert self.request is not None, "a When step must send a request first"
        if self.target.traffic_unavailable:
            self.not_sent += 1
            return None
        self.exchange = self.client.send(self.request)
        return self.exchange

    def expect(self, check: Callable[[Exchange], str | None]) -> Exchange | None:
        """The scenario's request holds `check` the Gateway API way (TargetClient.expect); None, counted as not
        checked, where the target cannot send requests."""
        assert self.request is not None, "a When step must send a request first"
        if self.target.traffic_unavailable:
            self.not_sent += 1
            return None
        self._attached = []  # each expectation shows the responses it saw
        self.exchange = self.client.expect(self.request, check)
        return self.exchange

    def eventually(self, attempt: Callable[[], Any], check: Callable[[Any], str | None]) -> Any:
        """What the control plane reports (a policy's condition) holds `check`, the Gateway API way."""
        found = self.client.eventually(attempt, check)
        self.status_checked += 1
        return found

    def status_only_outcome(self) -> str | None:
        """For a scenario that passed although some of its request steps could not be sent: why it does not count
        as passed, and how far it was checked. None when every step ran."""
        if not self.not_sent:
            return None
        checked = f"{self.status_checked} status expectation(s) held" if self.status_checked else "no status checked"
        return f"status only: {checked}; {self.not_sent} request step(s) not sent: {self.target.traffic_unavailable}"

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


@pytest.fixture
def scenario_context(request: pytest.FixtureRequest, conformance_target: Target) -> Iterator[ScenarioContext]:
    harness = request.config.stash[_harness_key()]
    meta = harness.meta.get(request.node.nodeid)
    profile = PROFILES[meta.profile] if meta else PROFILES["kgateway"]
    client = TargetClient(conformance_target, harness.options.consistency, default_listener=profile.listener_port)
    context = ScenarioContext(client, profile)
    try:
        yield context
    finally:
        client.close()
        client.reset()  # also after a failure: the next scenario starts clean


def _harness_key() -> pytest.StashKey[Any]:
    from conformance.plugin import HARNESS_KEY

    return HARNESS_KEY
