"""Steps that check the response and, through httpbin's echo, what the upstream received.

Each expectation re-sends the scenario's request until it holds for the required consecutive attempts
(Gateway API's eventual-consistency rule), so a change applied a moment ago is given time to take effect.
"""

from __future__ import annotations

from pytest_bdd import parsers, then

from conformance.http import Exchange
from conformance.redact import excerpt
from conformance.steps.context import ScenarioContext
from conformance.targets.base import PolicyCondition

# What the upstream received, by part, as httpbin echoes it back (first value of each name).
PARTS = "header|query parameter|cookie"


def _received(exchange: Exchange, part: str) -> dict[str, str] | None:
    if part == "header":
        return exchange.upstream_headers()
    if part == "cookie":
        return exchange.upstream_cookies()
    args = exchange.upstream_args()
    return None if args is None else {k: v[0] if isinstance(v, list) else v for k, v in args.items()}


def _not_an_echo(exchange: Exchange, part: str) -> str:
    hint = "; request /anything to see the query" if part == "query parameter" else ""
    body = excerpt(exchange.body)
    return f"the response is not httpbin's echo of the {part}s (status {exchange.status}, body {body}){hint}"


@then(parsers.parse("the response status is {status:d}"))
def status_is(scenario_context: ScenarioContext, status: int) -> None:
    scenario_context.expect(
        lambda ex: None if ex.status == status else f"expected status {status}, got {ex.status}: {excerpt(ex.body)}"
    )


@then(parsers.parse('the response body is "{body}"'))
def body_is(scenario_context: ScenarioContext, body: str) -> None:
    scenario_context.expect(
        lambda ex: None if ex.body == body else f"expected body {body!r}, got {excerpt(ex.body, 300)}"
    )


@then(parsers.parse('the response header "{name}" starts with "{value}"'))
def response_header_starts(scenario_context: ScenarioContext, name: str, value: str) -> None:
    def check(ex: Exchange) -> str | None:
        got = ex.headers.get(name.lower())
        return None if got is not None and got.startswith(value) else f"response header {name}: {got!r}"

    scenario_context.expect(check)


@then(parsers.parse('the response has no header "{name}"'))
def response_header_absent(scenario_context: ScenarioContext, name: str) -> None:
    scenario_context.expect(lambda ex: None if name.lower() not in ex.headers else f"unexpected response header {name}")


@then(parsers.re(rf'the upstream receives (?P<part>{PARTS}) "(?P<name>[^"]+)" with value "(?P<value>[^"]*)"$'))
def upstream_receives(scenario_context: ScenarioContext, part: str, name: str, value: str) -> None:
    key = name.lower() if part == "header" else name  # header names are case-insensitive

    def check(ex: Exchange) -> str | None:
        received = _received(ex, part)
        if received is None:
            return _not_an_echo(ex, part)
        got = received.get(key)
        return None if got == value else f"upstream {part} {name}: expected {value!r}, got {got!r}"

    scenario_context.expect(check)


@then(parsers.re(rf'the upstream receives no (?P<part>{PARTS}) "(?P<name>[^"]+)"$'))
def upstream_lacks(scenario_context: ScenarioContext, part: str, name: str) -> None:
    key = name.lower() if part == "header" else name

    def check(ex: Exchange) -> str | None:
        received = _received(ex, part)
        if received is None:
            return _not_an_echo(ex, part)
        return None if key not in received else f"the upstream received {part} {name}: {received[key]!r}"

    scenario_context.expect(check)


@then(parsers.parse('the upstream receives the query string "{query}"'))
def upstream_query_is(scenario_context: ScenarioContext, query: str) -> None:
    """The raw query, byte for byte: order, grouping and encoding, not only which parameters arrived."""

    def check(ex: Exchange) -> str | None:
        received = ex.upstream_query()
        if received is None:
            return _not_an_echo(ex, "query parameter")
        return None if received == query else f"upstream query string: expected {query!r}, got {received!r}"

    scenario_context.expect(check)


@then("the upstream receives no query string")
def upstream_no_query(scenario_context: ScenarioContext) -> None:
    def check(ex: Exchange) -> str | None:
        received = ex.upstream_query()
        if received is None:
            return _not_an_echo(ex, "query parameter")
        return None if "?" not in ex.echo["url"] else f"the upstream received a query string: {received!r}"

    scenario_context.expect(check)


@then("the upstream receives no Cookie header")
def upstream_no_cookie_header(scenario_context: ScenarioContext) -> None:
    upstream_lacks(scenario_context, "header", "cookie")


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


@then(parsers.parse('the {kind} "{namespace}/{name}" condition message is "{text}"'))
def policy_condition_message_is(scenario_context: ScenarioContext, kind: str, namespace: str, name: str, text: str):
    """The whole message, exactly."""
    target = scenario_context.target

    def check(condition: PolicyCondition | None) -> str | None:
        if condition is None:
            return "the policy has no Accepted condition yet"
        return None if condition.message == text else f"condition message {condition.message!r}, expected {text!r}"

    scenario_context.eventually(lambda: target.policy_condition(kind, namespace, name), check)


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
