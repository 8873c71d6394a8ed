"""The `reference` target: the reference gateway and a real httpbin in this process, on ephemeral ports."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from conformance.objects import ObjectKey
from conformance.targets.base import PolicyCondition, Target, pinned_gateway_api, suite_version
from conformance.targets.faults import deciders_with
from conformance.targets.options import ReferenceOptions
from reference_impl.compile.snapshot import BackendMap
from reference_impl.errors import ManifestError
from reference_impl.gateway.server import GatewayServer
from reference_impl.resources import Resource, parse_manifest
from reference_impl.store import Store
from reference_impl.upstream import HttpbinServer


class ReferenceTarget(Target):
    """The reference gateway and a real httpbin in this process."""

    name = "reference"
    summary = "the reference gateway and a real httpbin in this process, on ephemeral ports (the default)"
    Options: ClassVar[type[ReferenceOptions]] = ReferenceOptions
    options: ReferenceOptions
    profiles = frozenset({"kgateway", "agentgateway"})
    applies_synchronously = True  # the store recompiles inside apply()
    confirms_applied = True

    def __init__(self, options: Mapping[str, Any] | ReferenceOptions | None = None) -> None:
        super().__init__(options)
        self.fault = self.options.fault
        if self.options.status_only:
            self.traffic_unavailable = "the reference target's status_only option is set"
        self.httpbin = HttpbinServer()
        self.store: Store | None = None
        self.server: GatewayServer | None = None

    def start(self) -> None:
        deciders = deciders_with(self.fault)
        upstream = self.httpbin.start()
        # Every Service named httpbin, in any namespace, is the embedded httpbin; `backends` adds others.
        self.store = Store(BackendMap({"httpbin": upstream, **self.options.backends}))
        self.server = GatewayServer(self.store, deciders=deciders)
        try:
            self.server.start_in_thread(admin_port=0)
        except BaseException:
            self.httpbin.stop()
            raise

    def _parse(self, manifests: list[dict[str, Any]]) -> list[Resource]:
        try:
            return [parse_manifest(m) for m in manifests]
        except ManifestError as error:
            raise ValueError(str(error)) from None

    def apply(self, manifests: list[dict[str, Any]]) -> None:
        assert self.store is not None, "start() first"
        self.store.apply(self._parse(manifests))

    def delete(self, manifests: list[dict[str, Any]]) -> None:
        assert self.store is not None, "start() first"
        for manifest in manifests:
            self.store.delete(*ObjectKey.of(manifest))

    def reset(self) -> None:
        if self.store is not None:
            self.store.clear()
        if self.server is not None:
            self.server.counters.reset()

    def base_url(self, listener_port: int) -> str:
        assert self.server is not None, "start() first"
        return self.server.url(listener_port)

    def policy_condition(self, kind: str, namespace: str, name: str) -> PolicyCondition | None:
        assert self.store is not None, "start() first"
        condition = self.store.status(kind, namespace, name)
        if condition is None:
            return None
        return PolicyCondition(condition.type, condition.status, condition.reason, condition.message)

    def versions(self) -> dict[str, str]:
        return {"reference-gateway": suite_version()}

    def gateway_api(self) -> tuple[str, str]:
        return pinned_gateway_api()

    @property
    def admin_url(self) -> str | None:
        return self.server.admin_url if self.server else None

    def close(self) -> None:
        if self.server is not None:
            self.server.stop_thread()
            self.server = None
        self.httpbin.stop(wait=False)  # the listening socket is closed now; gunicorn winds down on its own
