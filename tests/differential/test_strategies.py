"""Generated worlds are admitted and translated, Accepted=True but for the policies meant to fail (a Secret that does
not exist), which are Accepted=False; requests fit a scenario's table."""

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
            meant_to_fail = kgateway.MISSING in str(manifest["spec"])
            expected = ("False", "Invalid") if meant_to_fail else ("True", "Valid")
            assert condition is not None and (condition.status, condition.reason) == expected, (meta["name"], condition)


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

    @FEW
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
