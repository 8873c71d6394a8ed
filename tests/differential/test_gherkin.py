"""Divergences rendered as scenarios: the baseline's behaviour, in the suite's step phrases."""

from __future__ import annotations

from conformance.differential.gherkin import expectations, request_steps
from conformance.differential.model import Observation, Upstream
from conformance.http import RequestSpec

DENIED = Observation(401, "text/plain", "Client authentication failed.", None)


def forwarded(query: str | None = None, **headers: tuple[str, ...]) -> Observation:
    upstream = Upstream("GET", "/anything/a", query, tuple(sorted(headers.items())))
    return Observation(200, "application/json", None, upstream)


def test_a_status_difference_states_the_baseline_status_body_and_type() -> None:
    expected = expectations(forwarded(), DENIED)
    assert expected.lines == [
        "the response status is 401",
        'the response header "content-type" starts with "text/plain"',
        'the response body is "Client authentication failed."',
    ]
    assert expected.distinguishing and not expected.notes


def test_upstream_headers_and_cookies_as_httpbin_shows_them() -> None:
    a = forwarded(**{"x-client-id": ("alice",), "cookie": ('theme="dark"; a=1',), "api-key": ("k", "j")})
    b = forwarded(**{"cookie": ("theme=dark; a=1",), "api-key": ("k,j",)})
    expected = expectations(a, b)
    assert expected.lines == [
        "the response status is 200",
        'the upstream receives no header "x-client-id"',
        'the upstream receives cookie "theme" with value "dark"',
    ]
    assert expected.distinguishing
    # "k" and "j" on two lines reach httpbin as "k,j", as one line "k,j" does: no step sees that difference.
    assert not any("api-key" in line for line in expected.lines)


def test_a_raw_query_difference_httpbin_cannot_show_is_a_note() -> None:
    expected = expectations(forwarded("z=1&a=2"), forwarded("a=2&z=1"))
    assert expected.lines == ["the response status is 200"]
    assert not expected.distinguishing
    assert "raw query string differs" in expected.notes[0]
    decoded = expectations(forwarded("x=a%26b"), forwarded("x=a&b"))
    assert 'the upstream receives query parameter "x" with value "a"' in decoded.lines
    assert decoded.distinguishing


def test_request_table_escapes_cells_and_aligns_columns() -> None:
    steps = request_steps(RequestSpec(path="/anything/a", headers=(("api-key", "a|b\\c"),), cookies=(("t", ""),)))
    assert steps == [
        'When I send a GET request to "/anything/a" with:',
        "  | part   | name    | value   |",
        "  | header | api-key | a\\|b\\\\c |",
        "  | cookie | t       |         |",
    ]
    assert request_steps(RequestSpec(path="/anything/c")) == ['When I send a GET request to "/anything/c"']


def test_a_policy_status_difference_states_the_baseline_condition() -> None:
    from conformance.differential.compare import status_differences
    from conformance.differential.model import PolicyStatus

    ours = {"TrafficPolicy team/auth": PolicyStatus("True", "Valid", "Policy accepted")}
    theirs = {"TrafficPolicy team/auth": PolicyStatus("False", "Invalid", "API key secret k: Secret team/k not found")}
    (found,) = status_differences(ours, theirs)
    assert (found.aspect, found.name) == ("policy status", "TrafficPolicy team/auth")
    assert found.b == "Accepted=False reason Invalid: API key secret k: Secret team/k not found"
    expected = expectations(DENIED, DENIED, [found])
    assert expected.lines == [
        "the response status is 401",
        'the TrafficPolicy "team/auth" has condition Accepted=False with reason Invalid',
        'the TrafficPolicy "team/auth" condition message is "API key secret k: Secret team/k not found"',
    ]
    assert expected.distinguishing and not expected.notes
    assert status_differences(ours, ours) == []
    (missing,) = status_differences(ours, {"TrafficPolicy team/auth": None})
    assert missing.b == "no Accepted condition"
    assert expectations(DENIED, DENIED, [missing]).notes
