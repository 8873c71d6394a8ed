"""Generated worlds are admitted and translated, Accepted=True but for the policies meant to fail: a kgateway policy
naming a Secret that does not exist is Accepted=False; an agentgateway policy naming one, or reading a store with an
entry agentgateway drops, is PartiallyValid. Requests fit a scenario's table."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from conformance.differential import agentgateway, kgateway
from conformance.differential.model import Case
from conformance.profiles import PROFILES
from conformance.steps.requests import request_from_table
from reference_impl.admission import admit
from reference_impl.compile.snapshot import BackendMap
from reference_impl.resources import parse_manifest
from reference_impl.store import Store

POLICY_KINDS = ("TrafficPolicy", "AgentgatewayPolicy")
FEW = settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
# How often the generator makes something is a property of its code: sampled the same way on every run.
SAMPLE = settings(FEW, derandomize=True)


def _accepted(case: Case) -> None:
    """The CRDs' own rules admit every manifest (kgateway v2.3.x, agentgateway v1.4.1, the pinned releases),
    and the controller-level rules accept every policy but those naming the missing Secret."""
    release = {"kgateway": "v2.3.x", "agentgateway": "v1.4.1"}
    for manifest in case.manifests:
        admit(manifest, release=release)
    store = Store(BackendMap({"httpbin": "http://127.0.0.1:9"}))
    store.apply([parse_manifest(m) for m in [*PROFILES[case.profile].base_manifests(), *case.manifests]])
    for manifest in case.manifests:
        if manifest["kind"] in POLICY_KINDS:
            meta = manifest["metadata"]
            condition = store.status(manifest["kind"], meta["namespace"], meta["name"])
            if manifest["kind"] == "TrafficPolicy":
                expected = ("False", "Invalid") if kgateway.MISSING in str(manifest["spec"]) else ("True", "Valid")
            else:
                expected = ("True", "PartiallyValid") if _partly_valid(manifest, case) else ("True", "Valid")
            assert condition is not None and (condition.status, condition.reason) == expected, (meta["name"], condition)


def _partly_valid(policy: dict, case: Case) -> bool:
    """An agentgateway policy that names nothing there is, or reads a store holding an entry agentgateway drops."""
    auth = policy["spec"]["traffic"]["apiKeyAuthentication"]
    if "secretRef" in auth:
        if auth["secretRef"]["name"] == agentgateway.MISSING:
            return True
        read = [
            m for m in case.manifests if m["kind"] == "Secret" and m["metadata"]["name"] == auth["secretRef"]["name"]
        ]
    else:
        kind, selector = (
            ("Secret", auth["secretSelector"])
            if "secretSelector" in auth
            else (
                "ConfigMap",
                auth["configMapSelector"],
            )
        )
        label = selector["matchLabels"]["set"]
        read = [m for m in case.manifests if m["kind"] == kind and m["metadata"]["labels"]["set"] == label]
    return any(agentgateway.BAD_ENTRY in (m.get("stringData") or m.get("data") or {}) for m in read)


def _fits_a_table(case: Case) -> None:
    for request in case.requests:
        rows = [["part", "name", "value"]]
        rows += [["header", n, v] for n, v in request.headers]
        rows += [["query", n, v] for n, v in request.query]
        rows += [["cookie", n, v] for n, v in request.cookies]
        again = request_from_table(request.method, request.path, rows)  # the step trims cells: nothing to trim
        assert (again.headers, again.query, again.cookies) == (request.headers, request.query, request.cookies)


@FEW
@given(kgateway.cases())
def test_generated_kgateway_policies_are_accepted(case: Case) -> None:
    _accepted(case)
    _fits_a_table(case)


def test_some_generated_kgateway_policies_name_a_missing_secret() -> None:
    found: list[bool] = []

    @SAMPLE
    @given(kgateway.cases())
    def sample(case: Case) -> None:
        found.append(any(kgateway.MISSING in str(m.get("spec")) for m in case.manifests))

    sample()
    assert any(found) and not all(found)


@FEW
@given(agentgateway.cases())
def test_generated_agentgateway_policies_are_accepted(case: Case) -> None:
    _accepted(case)
    _fits_a_table(case)


def test_some_generated_agentgateway_stores_hold_an_entry_agentgateway_drops_and_some_policies_name_nothing() -> None:
    bad: list[bool] = []
    missing: list[bool] = []

    @SAMPLE
    @given(agentgateway.cases())
    def sample(case: Case) -> None:
        bad.append(any(agentgateway.BAD_ENTRY in str(m.get("stringData") or m.get("data")) for m in case.manifests))
        missing.append(any(agentgateway.MISSING in str(m.get("spec")) for m in case.manifests))

    sample()
    assert any(bad) and not all(bad) and any(missing) and not all(missing)
