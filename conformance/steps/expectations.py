"""Steps that check the response and, through httpbin's echo, what the upstream received.

Each expectation re-sends the scenario's request until it holds for the required consecutive attempts
(Gateway API's eventual-consistency rule), so a change applied a moment ago is given time to take effect.
"""

from __future__ import annotations

from pytest_bdd import parsers, then

from conformance.http import Exchange
from conformance.steps.context import ScenarioContext
from conformance.targets.base import PolicyCondition


def _echo_problem(exchange: Exchange) -> str | None:
    if exchange.upstream_headers() is None:
        return f"the response is not httpbin's echo (status {exchange.status}, body {exchange.body[:200]!r})"
    return None


@then(parsers.parse("the response status is {status:d}"))
def status_is(scenario_context: ScenarioContext, status: int) -> None:
    scenario_context.expect(
        lambda ex: None if ex.status == status else f"expected status {status}, got {ex.status}: {ex.body[:200]!r}"
    )


@then(parsers.parse('the response body is "{body}"'))
def body_is(scenario_context: ScenarioContext, body: str) -> None:
    scenario_context.expect(lambda ex: None if ex.body == body else f"expected body {body!r}, got {ex.body[:300]!r}")


@then(parsers.parse('the response header "{name}" starts with "{value}"'))
def response_header_starts(scenario_context: ScenarioContext, name: str, value: str) -> None:
    def check(ex: Exchange) -> str | None:
        got = ex.headers.get(name.lower())
        return None if got is not None and got.startswith(value) else f"response header {name}: {got!r}"

    scenario_context.expect(check)


@then(parsers.parse('the response has no header "{name}"'))
def response_header_absent(scenario_context: ScenarioContext, name: str) -> None:
    scenario_context.expect(lambda ex: None if name.lower() not in ex.headers else f"unexpected response header {name}")


@then(parsers.parse('the upstream receives header "{name}" with value "{value}"'))
def upstream_header_is(scenario_context: ScenarioContext, name: str, value: str) -> None:
    def check(ex: Exchange) -> str | None:
        headers = ex.upstream_headers()
        if headers is None:
            return _echo_problem(ex)
        got = headers.get(name.lower())
        return None if got == value else f"upstream header {name}: expected {value!r}, got {got!r}"

    scenario_context.expect(check)


@then(parsers.parse('the upstream receives no header "{name}"'))
def upstream_header_absent(scenario_context: ScenarioContext, name: str) -> None:
    def check(ex: Exchange) -> str | None:
        headers = ex.upstream_headers()
        if headers is None:
            return _echo_problem(ex)
        return (
            None if name.lower() not in headers else f"the upstream received header {name}: {headers[name.lower()]!r}"
        )

    scenario_context.expect(check)


@then(parsers.parse('the upstream receives query parameter "{name}" with value "{value}"'))
def upstream_query_is(scenario_context: ScenarioContext, name: str, value: str) -> None:
    def check(ex: Exchange) -> str | None:
        args = ex.upstream_args()
        if args is None:
            return _echo_problem(ex) or "httpbin's echo has no args: request /anything to see the query"
        got = args.get(name)
        got = got[0] if isinstance(got, list) else got
        return None if got == value else f"upstream query parameter {name}: expected {value!r}, got {got!r}"

    scenario_context.expect(check)


@then(parsers.parse('the upstream receives no query parameter "{name}"'))
def upstream_query_absent(scenario_context: ScenarioContext, name: str) -> None:
    def check(ex: Exchange) -> str | None:
        args = ex.upstream_args()
        if args is None:
            return _echo_problem(ex) or "httpbin's echo has no args: request /anything to see the query"
        return None if name not in args else f"the upstream received query parameter {name}={args[name]!r}"

    scenario_context.expect(check)


@then(parsers.parse('the upstream receives cookie "{name}" with value "{value}"'))
def upstream_cookie_is(scenario_context: ScenarioContext, name: str, value: str) -> None:
    def check(ex: Exchange) -> str | None:
        cookies = ex.upstream_cookies()
        if cookies is None:
            return _echo_problem(ex)
        got = cookies.get(name)
        return None if got == value else f"upstream cookie {name}: expected {value!r}, got {got!r}"

    scenario_context.expect(check)


@then(parsers.parse('the upstream receives no cookie "{name}"'))
def upstream_cookie_absent(scenario_context: ScenarioContext, name: str) -> None:
    def check(ex: Exchange) -> str | None:
        cookies = ex.upstream_cookies()
        if cookies is None:
            return _echo_problem(ex)
        return None if name not in cookies else f"the upstream received cookie {name}"

    scenario_context.expect(check)


@then("the upstream receives no Cookie header")
def upstream_no_cookie_header(scenario_context: ScenarioContext) -> None:
    upstream_header_absent(scenario_context, "cookie")


def _condition_check(expected_status: str, expected_reason: str, text: str | None):
    def check(condition: PolicyCondition | None) -> str | None:
        if condition is None:
            return "the policy has no Accepted condition yet"
        if condition.status != expected_status or condition.reason != expected_reason:
            return (
                f"Accepted={condition.status} reason {condition.reason} (message {condition.message!r}); "
                f"expected Accepted={expected_status} reason {expected_reason}"
            )
        if text is not None and text not in condition.message:
            return f"condition message {condition.message!r} does not contain {text!r}"
        return None

    return check


@then(parsers.parse('the {kind} "{namespace}/{name}" has condition Accepted={status:w} with reason {reason:w}'))
def policy_condition(scenario_context: ScenarioContext, kind: str, namespace: str, name: str, status: str, reason: str):
    target = scenario_context.target
    scenario_context.eventually(
        lambda: target.policy_condition(kind, namespace, name), _condition_check(status, reason, None)
    )


@then(
    parsers.parse(
        'the {kind} "{namespace}/{name}" has condition Accepted={status:w} with reason {reason:w} '
        'and a message containing "{text}"'
    )
)
def policy_condition_message(
    scenario_context: ScenarioContext, kind: str, namespace: str, name: str, status: str, reason: str, text: str
) -> None:
    target = scenario_context.target
    scenario_context.eventually(
        lambda: target.policy_condition(kind, namespace, name), _condition_check(status, reason, text)
    )


@then(parsers.parse('the {kind} "{namespace}/{name}" condition message does not contain "{text}"'))
def policy_condition_message_excludes(
    scenario_context: ScenarioContext, kind: str, namespace: str, name: str, text: str
) -> None:
    target = scenario_context.target

    def check(condition: PolicyCondition | None) -> str | None:
        if condition is None:
            return "the policy has no Accepted condition yet"
        # The text itself is never quoted back: it is usually a key.
        return None if text not in condition.message else "the condition message contains the given text"

    scenario_context.eventually(lambda: target.policy_condition(kind, namespace, name), check)
