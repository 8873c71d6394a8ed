"""The gateway in a notebook: start it in one call, apply YAML from a cell, send requests, read status and stats."""

from __future__ import annotations

import atexit
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from conformance.client import TargetClient
from conformance.consistency import ConsistencySettings
from conformance.http import RequestSpec
from conformance.notebook.render import box, pre, redacted
from conformance.notebook.views import (
    ConditionView,
    Manifests,
    ManifestView,
    ResponseView,
    StatsView,
    as_documents,
    as_stored,
)
from conformance.objects import ObjectKey
from conformance.options import consistency_from_env
from conformance.profiles import PROFILES, Profile
from conformance.redact import REDACTOR, excerpt
from conformance.targets import load_target, make_target
from conformance.targets.base import CountsRequests, HasAdmin, HasStore, Target
from conformance.targets.options import EmbeddedOptions


class Playground:
    """A gateway to try policies on from notebook cells: apply / delete YAML, send requests, read status and stats.

    `Playground.start()` runs the reference gateway with a real httpbin on ephemeral ports;
    `Playground.for_target(name, options)` uses any conformance target (reference, envoy, kind, cluster).
    """

    def __init__(
        self,
        target: Target,
        *,
        profile: str | None = None,
        settings: ConsistencySettings | None = None,
    ) -> None:
        self.target = target
        self.profile: Profile | None = PROFILES[profile] if profile else None
        settings = settings or consistency_from_env()
        if target.applies_synchronously:
            # Nothing propagates: one matching answer is the answer (so per-client counters stay exact), and a
            # wrong answer will not change by waiting, so a failing cell fails within seconds.
            settings = replace(
                settings,
                required_consecutive_successes=1,
                interval_between_matches=0.0,
                max_time_to_consistency=min(settings.max_time_to_consistency, 2.0),
            )
        self.client = TargetClient(
            target, settings, default_listener=self.profile.listener_port if self.profile else None
        )
        self.settings = self.client.settings
        self._closed = False
        atexit.register(self.close)

    # -- construction -------------------------------------------------------------------------------------
    @classmethod
    def start(
        cls,
        *,
        profile: str | None = "kgateway",
        backends: Mapping[str, str] | None = None,
        settings: ConsistencySettings | None = None,
    ) -> Playground:
        """The reference gateway and an embedded httpbin (every Service named `httpbin`), plus `backends`
        ({"name[.namespace][:port]": "http://host:port"}) for your own upstreams."""
        return cls.for_target("reference", profile=profile, backends=backends, settings=settings)

    @classmethod
    def for_target(
        cls,
        name: str = "reference",
        options: Mapping[str, Any] | None = None,
        *,
        profile: str | None = "kgateway",
        backends: Mapping[str, str] | None = None,
        settings: ConsistencySettings | None = None,
    ) -> Playground:
        if profile is not None and profile not in PROFILES:
            raise ValueError(f"profile {profile!r}: expected one of {', '.join(PROFILES)}")
        settings = settings or consistency_from_env()
        parsed = load_target(name).Options.parse(
            {"profiles": profile or tuple(PROFILES), "consistency": settings, **dict(options or {})}
        )
        if backends:
            if not isinstance(parsed, EmbeddedOptions):
                raise ValueError(f"backends: target {name!r} cannot reach services on this machine")
            parsed = type(parsed).parse({**parsed.model_dump(), "backends": {**parsed.backends, **backends}})
        target = make_target(name, parsed)  # TargetUnavailable says why it cannot run here
        if profile is not None and profile not in target.profiles:
            raise ValueError(f"target {name!r} implements {sorted(target.profiles)}, not the {profile} profile")
        target.start()
        return cls(target, profile=profile, settings=settings)

    # -- facts --------------------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.target.name

    @property
    def is_reference(self) -> bool:
        return self.target.name == "reference"

    @property
    def store(self) -> Any:
        """The reference gateway's Store (reference target only)."""
        if not isinstance(self.target, HasStore):
            raise NotImplementedError(f"store: only the embedded reference gateway has it (target: {self.name})")
        return self.target.store

    @property
    def admin_url(self) -> str | None:
        return self.target.admin_url if isinstance(self.target, HasAdmin) else None

    @property
    def applied(self) -> dict[tuple[str, str, str], dict[str, Any]]:
        """What was applied through this playground, by (kind, namespace, name), in creation order."""
        return {key: manifest for key in self.client.applied if (manifest := self.client.applied.get(key))}

    def _listener(self, listener_port: int | None) -> int:
        if listener_port is not None:
            return listener_port
        if self.profile is None:
            raise ValueError("listener_port: required when the playground has no profile")
        return self.profile.listener_port

    def base_url(self, listener_port: int | None = None) -> str:
        return self.client.base_url(self._listener(listener_port))

    def base_manifests(self, host: str = "www.example.com") -> list[dict[str, Any]]:
        """The profile's Gateway and httpbin HTTPRoute: what the guides' "before you begin" steps create."""
        if self.profile is None:
            raise ValueError("base_manifests: the playground has no profile")
        return self.profile.base_manifests(host)

    # -- resources ----------------------------------------------------------------------------------------
    def apply(self, manifests: Manifests) -> ManifestView:
        """Create or update resources from YAML text or dicts, like `kubectl apply -f -`; waits until applied.
        A rejected manifest raises ValueError naming the field."""
        documents = as_documents(manifests)
        for document in documents:
            if document.get("kind") == "Secret":
                as_stored(document)  # registers the base64 form the API server shows, before anything can show it
        changes = self.client.apply(documents)
        lines = [f"{key.kind.lower()}/{key.name} {'created' if new else 'configured'}" for key, new in changes]
        return ManifestView(documents, "kubectl apply -f - <<EOF", lines, heredoc=True)

    def delete(self, manifests: Manifests) -> ManifestView:
        """Delete the resources the manifests name (absent ones are ignored), like `kubectl delete -f -`."""
        documents = as_documents(manifests)
        lines = [f'{key.kind.lower()} "{key.name}" deleted' for key in self.client.delete(documents)]
        return ManifestView(documents, "kubectl delete -f - <<EOF", lines, heredoc=True)

    def get(self, kind: str, namespace: str, name: str) -> ManifestView:
        """An applied resource as `kubectl get -o yaml` shows it (Secrets base64-encoded), keys redacted."""
        manifest = self.client.applied.get(ObjectKey(kind, namespace, name))
        if manifest is None:
            raise KeyError(f"{kind} {namespace}/{name} was not applied through this playground")
        if self.is_reference and self.store.get(kind, namespace, name) is None:
            raise KeyError(f"{kind} {namespace}/{name} is not in the gateway's store")
        return ManifestView([as_stored(manifest)], f"kubectl get {kind.lower()} {name} -n {namespace} -o yaml")

    def reset(self) -> None:
        """Delete everything applied (and zero the reference gateway's counters)."""
        self.client.reset()

    # -- requests -----------------------------------------------------------------------------------------
    def request(
        self,
        method: str = "GET",
        path: str = "/headers",
        *,
        host: str = "www.example.com",
        headers: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        query: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        cookies: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        listener_port: int | None = None,
        expect: int | Callable[[ResponseView], str | bool | None] | None = None,
    ) -> ResponseView:
        """Send one request (the profile's listener by default). With `expect` (a status code, or a check that
        returns None / True when satisfied, else why not), re-send until it holds per the consistency settings,
        and raise AssertionError if it never does."""
        spec = self.client.present(
            RequestSpec(
                method=method.upper(),
                path=path,
                host=host,
                listener_port=self._listener(listener_port),
                headers=_pairs(headers),
                query=_pairs(query),
                cookies=_pairs(cookies),
            )
        )
        base_url = self.client.base_url(spec.listener_port)
        attempts = 0

        def attempt() -> ResponseView:
            nonlocal attempts
            attempts += 1
            return ResponseView(self.client.send(spec), base_url, attempts)

        if expect is None:
            return attempt()

        def check(view: ResponseView) -> str | None:
            if isinstance(expect, int):
                if view.status == expect:
                    return None
                return f"status {view.status}, expected {expect}; body {excerpt(view.body, 300)}"
            verdict = expect(view)
            if verdict is None or verdict is True:
                return None
            return verdict if isinstance(verdict, str) else f"check failed on status {view.status}"

        def redacted_check(view: ResponseView) -> str | None:
            problem = check(view)
            return redacted(f"{spec.method} {spec.target()}: {problem}") if problem else None

        return self.client.eventually(attempt, redacted_check)

    # -- status and counters ------------------------------------------------------------------------------
    def status(self, kind: str, namespace: str, name: str, *, wait: bool = True) -> ConditionView:
        """The policy's `Accepted` condition; with `wait`, until the implementation has set one."""
        return ConditionView(kind, namespace, name, self.client.condition(kind, namespace, name, wait=wait))

    def stats(self) -> StatsView:
        """Reference: per-client allowed / denied counters from the admin endpoint's /stats.
        Envoy: the api_key_auth filter's own counters."""
        if self.admin_url:
            url = f"{self.admin_url}/stats"
            status, _, body = self.client.http.get(url)
            if status != 200:
                raise RuntimeError(f"{url} answered {status}")
            return StatsView(json.loads(body)["clients"], f'curl -s "{url}"')
        if not isinstance(self.target, CountsRequests):
            raise NotImplementedError(f"stats: target {self.name!r} exposes no counters here")
        return StatsView({"api_key_auth": self.target.stats()}, "envoy admin /stats (api_key_auth counters)")

    # -- life cycle ---------------------------------------------------------------------------------------
    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.client.close()
        self.target.close()
        atexit.unregister(self.close)

    def __enter__(self) -> Playground:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "running"
        parts = [f"Playground(target={self.name!r}, {state}"]
        if self.profile is not None and not self._closed:
            parts.append(f", listener {self.profile.listener_port} at {self.base_url()}")
        if self.admin_url and not self._closed:
            parts.append(f", admin {self.admin_url}")
        return "".join(parts) + ")"

    def _repr_html_(self) -> str:
        return box(pre(repr(self)))


def _pairs(items: Mapping[str, str] | Sequence[tuple[str, str]] | None) -> tuple[tuple[str, str], ...]:
    if not items:
        return ()
    pairs = items.items() if isinstance(items, Mapping) else items
    return tuple((str(k), str(v)) for k, v in pairs)


def show_yaml(manifests: Manifests, command: str = "") -> ManifestView:
    """Show manifests (keys redacted) without applying them."""
    documents = as_documents(manifests)
    REDACTOR.add_manifests(documents)
    return ManifestView(documents, command)
