"""Admission: a decoded manifest admitted the way the Kubernetes API server admits it on create.

For the custom resources (Gateway API, kgateway TrafficPolicy, agentgateway AgentgatewayPolicy) the real CRDs of a
release are the rules (`crds/`): strict field validation (unknown fields rejected, as `kubectl apply` does by
default), `default`s applied, the OpenAPI schema checked, list-type invariants, then every `x-kubernetes-validations`
CEL rule. Secret and ConfigMap follow the core API's own rules. Errors read like the API server's:

    TrafficPolicy.gateway.kgateway.dev "p" is invalid: spec.apiKeyAuth: Invalid value: exactly one of ...

`admit()` returns the object as the API server would store it; controller-level rules (references, duplicates,
selectors) are not admission's business and come later, as status conditions.
"""

from __future__ import annotations

import copy
import json
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from reference_impl.admission import cel, listtype, openapi, structural
from reference_impl.admission import fielderrors as fe
from reference_impl.admission.catalog import NEWEST, PINNED, RELEASES, find, parse_release, resolve
from reference_impl.admission.core import admit_config_map, admit_secret
from reference_impl.admission.fielderrors import AdmissionError
from reference_impl.admission.meta import admit_metadata
from reference_impl.errors import FieldError

__all__ = ["NEWEST", "PINNED", "RELEASES", "AdmissionError", "admit", "parse_release", "resolve"]

CORE = {"Secret": admit_secret, "ConfigMap": admit_config_map}
_BLOCKING = ("Required value", "Unsupported value", "Too long", "Too many")
_UNCHECKED_RULES = fe.invalid(
    fe.ROOT,
    None,
    "some validation rules were not checked because the object was invalid; correct the existing errors to "
    "complete validation",
)


def _label(kind: str, group: str, document: Mapping[str, Any]) -> str:
    meta = document.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    qualified = f"{kind}.{group}" if group else kind
    return f"{qualified} {fe.go_quote(str(name or ''))}"


def _blocks_rules(error: FieldError) -> bool:
    # Required, enum, maxLength, maxItems and type violations stop CEL rules from running (hasBlockingErr).
    return error.rule.startswith(_BLOCKING) or " must be of type " in error.rule


def _admit_custom(document: dict[str, Any], version: Any) -> tuple[dict[str, Any], list[str], list[FieldError]]:
    meta, unknown, errors = admit_metadata(document, version.kind)
    body = {k: v for k, v in document.items() if k != "metadata"}
    if version.status_subresource:
        body.pop("status", None)  # the status subresource owns it; a create never sets it
    unknown += structural.unknown_fields(body, version.schema)
    if unknown:
        return {**body, "metadata": meta}, unknown, errors
    body = structural.drop_nulls(structural.apply_defaults(body, version.schema), version.schema)
    errors += openapi.validate(body, version.validator) + listtype.validate(body, version.schema)
    if any(_blocks_rules(e) for e in errors):
        errors.append(_UNCHECKED_RULES)
    else:
        errors += cel.validate(body, version.schema)
    return {**body, "metadata": meta}, unknown, errors


_RECENT: OrderedDict[str, dict[str, Any] | AdmissionError] = OrderedDict()
_RECENT_SIZE = 4096  # a folder of manifests re-applied on every change admits each unchanged one from here


def admit(document: Mapping[str, Any], *, release: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Admit one decoded manifest against the newest vendored release of its project, or the release named
    (`{"kgateway": "v2.3.x"}`). Returns the admitted object (defaults applied, namespace filled in, a Secret's
    `stringData` merged into `data`); raises `AdmissionError` (a `ManifestError`) naming kind, name, field and rule."""
    if _core_kind(document):
        # A Secret or ConfigMap is admitted in one linear pass that builds a new object and leaves the input alone;
        # remembering it would cost more (a JSON key and two deep copies of what can be 100,000 entries).
        return _admit(document, release)
    try:
        key = json.dumps([document, sorted(resolve(release).items())], sort_keys=True)
    except (TypeError, ValueError):
        return _admit(document, release)  # not plain JSON data: nothing to remember it by
    if key in _RECENT:
        _RECENT.move_to_end(key)
    else:
        try:
            _RECENT[key] = _admit(document, release)
        except AdmissionError as error:
            _RECENT[key] = error
        if len(_RECENT) > _RECENT_SIZE:
            _RECENT.popitem(last=False)
    outcome = _RECENT[key]
    if isinstance(outcome, AdmissionError):
        raise AdmissionError(outcome.resource, outcome.errors, outcome.message)
    return copy.deepcopy(outcome)


def _core_kind(document: Any) -> bool:
    return isinstance(document, Mapping) and document.get("apiVersion") == "v1" and document.get("kind") in CORE


def _admit(document: Mapping[str, Any], release: Mapping[str, str] | None) -> dict[str, Any]:
    if not isinstance(document, Mapping):
        raise AdmissionError("manifest", [FieldError("", "expected a mapping with apiVersion and kind")])
    # Custom resources are defaulted in place below: work on a copy. Core kinds never change their input.
    document = dict(document) if _core_kind(document) else copy.deepcopy(dict(document))
    api_version, kind = document.get("apiVersion"), document.get("kind")
    if not isinstance(kind, str) or not kind:
        raise AdmissionError("manifest", [fe.required("kind")])
    if not isinstance(api_version, str) or not api_version:
        raise AdmissionError(_label(kind, "", document), [fe.required("apiVersion")])
    group, _, version_name = api_version.rpartition("/")
    if not group and kind in CORE and version_name == "v1":
        admitted, unknown, errors = CORE[kind](document)
    else:
        version = find(group, version_name, kind, resolve(release))
        if version is None:
            problem = f"no matches for kind {fe.go_quote(kind)} in version {fe.go_quote(api_version)}"
            raise AdmissionError(_label(kind, group, document), [FieldError("kind", problem)])
        admitted, unknown, errors = _admit_custom(document, version)
    # The API server stops at the first stage that fails: decoding, then strict field validation, then the schema.
    label = _label(kind, group, admitted or document)
    undecodable = [e for e in errors if isinstance(e, fe.DecodeProblem)]
    if undecodable:
        raise AdmissionError.undecodable(label, kind, version_name, undecodable)
    if unknown:
        raise AdmissionError.undecodable(label, kind, version_name, [fe.unknown_field(p) for p in sorted(unknown)])
    for error in errors:
        if isinstance(error, fe.NamespaceNotFound):
            raise AdmissionError.not_found(label, error)
    if errors:
        raise AdmissionError(label, errors)
    return admitted
