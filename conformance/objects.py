"""Which object a manifest names, and a set of objects kept in the order they were created: one of each for every
target and for the client that drives them, with the API server's defaults."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Generic, NamedTuple, TypeVar

# Kinds without a namespace among those scenarios and clusters use; every other kind is namespaced. A Kubernetes
# target asks the API server instead (`ObjectKey.of(..., namespaced=...)`).
CLUSTER_SCOPED = frozenset(
    {"Namespace", "GatewayClass", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding", "Node"}
)
DEFAULT_NAMESPACE = "default"

V = TypeVar("V")


class ObjectKey(NamedTuple):
    """A tuple, so it is also the (kind, namespace, name) key reference_impl uses."""

    kind: str
    namespace: str  # "" for a cluster-scoped kind
    name: str

    @classmethod
    def of(cls, manifest: Mapping[str, Any], namespaced: bool | None = None) -> ObjectKey:
        """The object a manifest names: a namespaced kind without a namespace is in `default`, as `kubectl apply`
        puts it."""
        meta = manifest.get("metadata") or {}
        kind = str(manifest.get("kind") or "")
        if namespaced is None:
            namespaced = kind not in CLUSTER_SCOPED
        namespace = str(meta.get("namespace") or DEFAULT_NAMESPACE) if namespaced else ""
        return cls(kind, namespace, str(meta.get("name") or ""))

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"


class CreationOrdered(Generic[V]):
    """Objects by key, remembering when each was first created: an update keeps its place, a delete forgets it
    (the API server's creationTimestamp, which decides which of two conflicting policies wins)."""

    def __init__(self) -> None:
        self._values: dict[ObjectKey, V] = {}
        self._created: dict[ObjectKey, int] = {}
        self._counter = 0

    def put(self, key: ObjectKey, value: V) -> bool:
        """Store `value`; True if the object is new."""
        new = key not in self._created
        if new:
            self._counter += 1
            self._created[key] = self._counter
        self._values[key] = value
        return new

    def pop(self, key: ObjectKey) -> V | None:
        self._created.pop(key, None)
        return self._values.pop(key, None)

    def clear(self) -> None:
        self._values.clear()
        self._created.clear()

    def get(self, key: ObjectKey) -> V | None:
        return self._values.get(key)

    def created(self, key: ObjectKey) -> int:
        return self._created[key]

    @property
    def creation(self) -> dict[ObjectKey, int]:
        return dict(self._created)

    def values(self) -> list[V]:
        return [self._values[k] for k in sorted(self._values, key=self._created.__getitem__)]

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def __iter__(self) -> Iterator[ObjectKey]:
        return iter(sorted(self._values, key=self._created.__getitem__))

    def __len__(self) -> int:
        return len(self._values)
