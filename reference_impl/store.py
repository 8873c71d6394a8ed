"""An in-memory object store, like a tiny API server: every change recompiles and swaps one snapshot."""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable, Iterable, Mapping

from reference_impl.compile import Snapshot, compile_snapshot
from reference_impl.compile.inventory import Inventory
from reference_impl.compile.snapshot import DEFAULT_GATEWAY_CLASSES, EMPTY, BackendMap, fail_closed_snapshot
from reference_impl.compile.status import Condition
from reference_impl.resources import Resource, load_manifests, resource_key

Key = tuple[str, str, str]  # (kind, namespace, name)
log = logging.getLogger("reference_impl.store")


class Store:
    """apply / delete / get / list. Readers take `store.snapshot`, which is replaced whole, never mutated.

    A manifest that fails validation is rejected before anything changes, so the last good snapshot keeps
    serving; a policy that validates but cannot be translated only gets an error status.
    """

    def __init__(
        self,
        backends: BackendMap | None = None,
        gateway_classes: Mapping[str, str] = DEFAULT_GATEWAY_CLASSES,
    ) -> None:
        self.backends = backends or BackendMap()
        self.gateway_classes = dict(gateway_classes)
        self._objects: dict[Key, Resource] = {}
        self._created: dict[Key, int] = {}
        self._counter = 0
        self._lock = threading.Lock()
        self._listeners: list[Callable[[Snapshot], None]] = []
        self.snapshot: Snapshot = EMPTY

    # -- writes -------------------------------------------------------------------------------------------
    def apply(self, resources: Iterable[Resource] | str) -> list[Resource]:
        """Create or replace resources (YAML text or parsed models), then recompile once."""
        items = load_manifests(resources) if isinstance(resources, str) else list(resources)
        with self._lock:
            for resource in items:
                key = resource_key(resource)
                if key not in self._created:
                    self._counter += 1
                    self._created[key] = self._counter
                self._objects[key] = resource
            self._recompile()
        return items

    def delete(self, kind: str, namespace: str, name: str) -> bool:
        with self._lock:
            removed = self._objects.pop((kind, namespace, name), None) is not None
            self._created.pop((kind, namespace, name), None)
            if removed:
                self._recompile()
        return removed

    def delete_resources(self, resources: Iterable[Resource] | str) -> int:
        items = load_manifests(resources) if isinstance(resources, str) else list(resources)
        with self._lock:
            removed = 0
            for resource in items:
                key = resource_key(resource)
                if self._objects.pop(key, None) is not None:
                    self._created.pop(key, None)
                    removed += 1
            if removed:
                self._recompile()
        return removed

    def replace_all(self, resources: Iterable[Resource]) -> None:
        """Make the store hold exactly `resources` (a watched folder's content), keeping creation order."""
        items = {resource_key(r): r for r in resources}
        with self._lock:
            for key in list(self._objects):
                if key not in items:
                    del self._objects[key]
                    self._created.pop(key, None)
            for key, resource in items.items():
                if key not in self._created:
                    self._counter += 1
                    self._created[key] = self._counter
                self._objects[key] = resource
            self._recompile()

    def clear(self) -> None:
        with self._lock:
            self._objects.clear()
            self._created.clear()
            self._recompile()

    # -- reads --------------------------------------------------------------------------------------------
    def get(self, kind: str, namespace: str, name: str) -> Resource | None:
        return self._objects.get((kind, namespace, name))

    def list(
        self, kind: str | None = None, namespace: str | None = None, labels: Mapping[str, str] | None = None
    ) -> list[Resource]:
        found = []
        for (k, ns, _), resource in sorted(self._objects.items()):
            if kind is not None and k != kind:
                continue
            if namespace is not None and ns != namespace:
                continue
            if labels and any(resource.metadata.labels.get(a) != b for a, b in labels.items()):
                continue
            found.append(resource)
        return found

    def inventory(self) -> Inventory:
        """The resources held now, indexed as compilation reads them."""
        return Inventory.of(self._objects.values(), self._created)

    def status(self, kind: str, namespace: str, name: str) -> Condition | None:
        """The `Accepted` condition of a policy, as the controller would write it."""
        return self.snapshot.policy_status.get((kind, namespace, name))

    def on_change(self, callback: Callable[[Snapshot], None]) -> None:
        self._listeners.append(callback)

    # -- internals ----------------------------------------------------------------------------------------
    def _recompile(self) -> None:
        inventory = self.inventory()
        generation = self.snapshot.generation + 1
        try:
            snapshot = compile_snapshot(
                inventory, backends=self.backends, generation=generation, gateway_classes=self.gateway_classes
            )
        except Exception as error:  # a bug here must close every listener, not keep revoked keys working
            where = traceback.extract_tb(error.__traceback__)[-1]
            # Only the exception type and where it happened: its text could quote configuration values.
            reason = f"{type(error).__name__} at {where.filename.rsplit('/', 1)[-1]}:{where.lineno}"
            log.error("configuration could not be compiled (%s): every listener answers 503 until it can", reason)
            ports = [listener.port for g in inventory.gateways.values() for listener in g.spec.listeners]
            snapshot = fail_closed_snapshot(self.snapshot, ports, generation, reason)
        self.snapshot = snapshot  # one reference assignment: readers see the old or the new, never a mix
        for callback in self._listeners:
            callback(snapshot)
