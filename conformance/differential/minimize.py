"""A last, structural shrink after hypothesis's: drop whatever part of a case the divergence does not need.

Hypothesis shrinks the choices behind a case and can stop at a local minimum (two identical headers where one
would do, a keySources item listed twice). Here each candidate removes one part the reader would have to think
about: a request row, a policy, a keySources item or field, an optional field, a Secret entry. A candidate is kept
when the same kind of divergence still shows, until no removal keeps it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

from conformance.differential.model import Case

POLICY_KINDS = ("TrafficPolicy", "AgentgatewayPolicy")
OPTIONAL_FIELDS = ("forwardCredential", "clientIdHeader", "keySources", "mode", "location")


def _auth(manifest: dict[str, Any]) -> dict[str, Any]:
    spec = manifest.get("spec") or {}
    return spec.get("apiKeyAuth") or (spec.get("traffic") or {}).get("apiKeyAuthentication") or {}


def _without_policy(manifests: list[dict[str, Any]], index: int) -> list[dict[str, Any]]:
    name = manifests[index]["metadata"]["name"]
    kept = copy.deepcopy(manifests[:index] + manifests[index + 1 :])
    for manifest in kept:  # an ExtensionRef to the dropped policy goes with it
        for rule in (manifest.get("spec") or {}).get("rules", []) if manifest["kind"] == "HTTPRoute" else []:
            filters = [f for f in rule.get("filters", []) if (f.get("extensionRef") or {}).get("name") != name]
            if filters:
                rule["filters"] = filters
            else:
                rule.pop("filters", None)
    return kept


def _manifest_candidates(manifests: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for index, manifest in enumerate(manifests):
        if manifest["kind"] in POLICY_KINDS:
            yield _without_policy(manifests, index)
    for index, manifest in enumerate(manifests):
        auth = _auth(manifest) if manifest["kind"] in POLICY_KINDS else {}
        for field in OPTIONAL_FIELDS:
            if field in auth:
                smaller = copy.deepcopy(manifests)
                del _auth(smaller[index])[field]
                yield smaller
        for position, item in enumerate(auth.get("keySources") or []):
            if len(auth["keySources"]) > 1:
                smaller = copy.deepcopy(manifests)
                del _auth(smaller[index])["keySources"][position]
                yield smaller
            for field in list(item) if len(item) > 1 else []:
                smaller = copy.deepcopy(manifests)
                del _auth(smaller[index])["keySources"][position][field]
                yield smaller
        header = (auth.get("location") or {}).get("header") or {}
        if "prefix" in header:
            smaller = copy.deepcopy(manifests)
            del _auth(smaller[index])["location"]["header"]["prefix"]
            yield smaller
        data_field = next(
            (f for f in ("stringData", "data") if manifest["kind"] in ("Secret", "ConfigMap") and f in manifest), None
        )
        if data_field and len(manifest[data_field]) > 1:
            for entry in manifest[data_field]:
                smaller = copy.deepcopy(manifests)
                del smaller[index][data_field][entry]
                yield smaller
        if data_field:
            yield copy.deepcopy(manifests[:index] + manifests[index + 1 :])


def candidates(case: Case, index: int) -> Iterator[tuple[Case, int]]:
    """Smaller cases, each with the position of the request that carries the divergence."""
    request = case.requests[index]
    if len(case.requests) > 1:
        yield replace(case, requests=(request,)), 0
        return
    for part in ("headers", "query", "cookies"):
        rows = getattr(request, part)
        for position in range(len(rows)):
            smaller = replace(request, **{part: rows[:position] + rows[position + 1 :]})
            yield replace(case, requests=(smaller,)), 0
    for manifests in _manifest_candidates(list(case.manifests)):
        yield replace(case, manifests=tuple(manifests)), index


def minimize(case: Case, index: int, still_diverges: Callable[[Case, int], bool]) -> tuple[Case, int]:
    """Remove parts until none can go; `still_diverges(case, index)` says whether the divergence is still there."""
    improved = True
    while improved:
        improved = False
        for candidate, position in candidates(case, index):
            if still_diverges(candidate, position):
                case, index, improved = candidate, position, True
                break
    return case, index
