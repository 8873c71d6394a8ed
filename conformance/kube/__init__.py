"""Shared helpers of the Kubernetes targets (`kind`, `cluster`).

- `recipes`: the pinned install recipes in `clusters/` and the exact kubectl / helm command sequence built from them.
- `commands`: a small runner for those argv lists, and the checks for Docker, kind, kubectl, helm and a cluster.
- `api`: server-side apply, deletion and namespace creation through the official `kubernetes` client.
- `conditions`: reading `Accepted` conditions and waiting for them, as pure functions of a reader and a clock.
- `portforward`: a managed `kubectl port-forward` to a Gateway's Service.
- `target`: the Target implementation both Kubernetes targets share.
"""

FIELD_MANAGER = "apikey-conformance"

__all__ = ["FIELD_MANAGER"]
