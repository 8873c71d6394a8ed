"""Two conformance targets driven in step: the same manifests through each one's own apply path, the same bytes.

Targets that take a `backends` option (the embedded ones) reach the raw echo upstream as their Service `httpbin`,
so the comparison sees the request line and every header; any other pair (a cluster) is compared through
httpbin's own echo.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from conformance.client import TargetClient
from conformance.consistency import ConsistencySettings
from conformance.differential import wire
from conformance.differential.echo import EchoServer
from conformance.differential.model import Observation, PolicyStatus
from conformance.differential.translation import Translations, from_reference, from_xds
from conformance.envoy import projection
from conformance.http import RequestSpec
from conformance.kube.conditions import POLICY_KINDS
from conformance.profiles import PROFILES
from conformance.redact import REDACTOR
from conformance.targets import TargetError, load_target, make_target
from conformance.targets.base import HasAgentgatewayXds, HasEnvoyConfig, HasStore
from conformance.targets.options import EmbeddedOptions

log = logging.getLogger(__name__)


def echo_capable(name: str) -> bool:
    """Whether a target reaches Services on this machine (its options take `backends`), so the raw echo."""
    try:
        return issubclass(load_target(name).Options, EmbeddedOptions)
    except Exception:
        return False


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
        capable = all(echo_capable(name) for name in names)
        if raw_echo and not capable:
            raise ValueError("only targets on this machine (reference, envoy) can reach the raw echo upstream")
        self.raw_echo = capable if raw_echo is None else raw_echo
        self.echo: EchoServer | None = None
        self.clients: list[TargetClient] = []

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

    @property
    def targets(self) -> list[Any]:
        return [client.target for client in self.clients]

    def start(self) -> None:
        try:
            backends: dict[str, str] = {}
            if self.raw_echo:
                self.echo = EchoServer()
                backends = {"httpbin": self.echo.start()}
            for name, options in zip(self.names, self.options, strict=True):
                settings = load_target(name).Options.parse(
                    {**options, "profiles": (self.profile.name,), "consistency": self.consistency}
                )
                if backends and isinstance(settings, EmbeddedOptions):
                    settings = type(settings).parse(
                        {**settings.model_dump(), "backends": {**settings.backends, **backends}}
                    )
                target = make_target(name, settings)
                # Keys are registered by the run for the cases it reports (runner.register_keys), not here.
                client = TargetClient(
                    target, self.consistency, redactor=None, default_listener=self.profile.listener_port
                )
                self.clients.append(client)  # closed by close() even if start() fails half-way
                try:
                    target.start()
                except Exception as error:
                    raise TargetError(f"target {name!r} could not start: {REDACTOR.redact(str(error))}") from error
        except BaseException:
            self.close()
            raise

    def load(self, manifests: list[dict[str, Any]]) -> None:
        """Make both targets hold exactly these manifests (what the last case had and this one has not goes)."""
        for client in self.clients:
            client.load(manifests)
            # New connections for the new configuration: a kept-alive connection may see the previous one.
            client.new_connections()

    @property
    def traffic_unavailable(self) -> str | None:
        """Why no request can be sent through one of the targets (a controller without its data plane), or None."""
        return next((t.traffic_unavailable for t in self.targets if t.traffic_unavailable), None)

    def send(self, request: RequestSpec) -> tuple[Observation, Observation]:
        """What each target answered; when one cannot send requests, neither is sent (the same `not sent`)."""
        if self.traffic_unavailable:
            unsent = Observation(0, None, None, None, error=f"not sent: {self.traffic_unavailable}")
            return unsent, unsent
        port = request.listener_port or self.profile.listener_port
        a, b = (wire.send(client.http, client.base_url(port), request) for client in self.clients)
        return a, b

    def statuses(self, manifests: Iterable[Mapping[str, Any]]) -> tuple[dict[str, PolicyStatus | None], ...]:
        """Each target's Accepted condition of every policy among the manifests (read after `load`, which waited
        for the targets to act on them), by `<Kind> <namespace>/<name>`."""
        policies = [
            (m["kind"], (m.get("metadata") or {}).get("namespace") or "default", m["metadata"]["name"])
            for m in manifests
            if m.get("kind") in POLICY_KINDS
        ]
        found: list[dict[str, PolicyStatus | None]] = []
        for client in self.clients:
            conditions = {}
            for kind, namespace, name in policies:
                condition = client.condition(kind, namespace, name)
                conditions[f"{kind} {namespace}/{name}"] = (
                    PolicyStatus(condition.status, condition.reason, condition.message) if condition else None
                )
            found.append(conditions)
        return tuple(found)

    def envoy_configs(self) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """Both Envoys' configuration of the profile's listener, projected to what decides API key auth
        (conformance/envoy/projection.py); None unless both targets serve it with a real Envoy."""
        targets = self.targets
        if len(targets) != 2 or not all(isinstance(t, HasEnvoyConfig) for t in targets):
            return None
        port = self.profile.listener_port
        a, b = (projection.project(t.envoy_config(port)) for t in targets)
        return a, b

    def translations(self) -> tuple[Translations, Translations] | None:
        """Both sides' translation of the profile Gateway's AgentgatewayPolicies (conformance/differential/
        translation.py): the real controller's xDS, or the reference gateway's compiled policies; None unless
        the profile is agentgateway's and both targets can show theirs."""
        if self.profile.name != "agentgateway" or len(self.targets) != 2:
            return None
        sides = []
        gateway = (self.profile.gateway_namespace, self.profile.gateway_name)
        for target in self.targets:
            if isinstance(target, HasAgentgatewayXds):
                sides.append(from_xds(target.agentgateway_xds(*gateway)))
            elif isinstance(target, HasStore) and target.store is not None:
                sides.append(from_reference(target.store.inventory()))
            else:
                return None
        return sides[0], sides[1]

    def versions(self) -> dict[str, dict[str, str]]:
        return {label: target.versions() for label, target in zip(self.labels, self.targets, strict=False)}

    def close(self) -> None:
        clients, self.clients = self.clients, []
        for client in clients:
            client.close()
            try:
                client.target.close()
            except Exception as error:  # the other target and the echo still get closed
                log.warning("closing a target failed: %s", REDACTOR.redact(str(error)))
        if self.echo is not None:
            self.echo.stop()
            self.echo = None

    def __enter__(self) -> TargetPair:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
