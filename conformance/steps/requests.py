"""Steps that send a request through the gateway, as the guides' curl commands do."""

from __future__ import annotations

from pytest_bdd import parsers, when

from conformance.http import RequestSpec
from conformance.steps.context import ScenarioContext

PARTS = ("header", "query", "cookie", "host", "listener")


def request_from_table(method: str, path: str, table: list[list[str]]) -> RequestSpec:
    """Rows after a `| part | name | value |` header; part is header, query, cookie, host or listener."""
    if not table or [cell.strip().lower() for cell in table[0]] != ["part", "name", "value"]:
        raise AssertionError("the request table must start with the header row | part | name | value |")
    headers, query, cookies = [], [], []
    host, listener = "www.example.com", None
    for row in table[1:]:
        if len(row) != 3:
            raise AssertionError(f"request table row {row}: expected three cells: part, name, value")
        part, name, value = (cell.strip() for cell in row)
        if part == "header":
            headers.append((name, value))
        elif part == "query":
            query.append((name, value))
        elif part == "cookie":
            cookies.append((name, value))
        elif part == "host":
            host = value
        elif part == "listener":
            listener = int(value)
        else:
            raise AssertionError(f"request table part {part!r}: expected one of {', '.join(PARTS)}")
    return RequestSpec(method, path, host, listener, tuple(headers), tuple(query), tuple(cookies))


@when(parsers.re(r'I send a (?P<method>[A-Z]+) request to "(?P<path>[^"]*)"$'))
def send_plain(scenario_context: ScenarioContext, method: str, path: str) -> None:
    scenario_context.set_request(RequestSpec(method, path))
    scenario_context.send()


@when(parsers.re(r'I send a (?P<method>[A-Z]+) request to "(?P<path>[^"]*)" with:$'))
def send_with(scenario_context: ScenarioContext, method: str, path: str, datatable: list[list[str]]) -> None:
    scenario_context.set_request(request_from_table(method, path, datatable))
    scenario_context.send()
