"""A divergence as a ready-to-paste Gherkin scenario, in the suite's own step phrases (conformance/steps/).

The scenario states what the baseline target did, so it passes there and fails on the other target. Upstream
expectations are phrased as httpbin's echo shows them (the suite's upstream): headers with repeated values joined
by ",", the first value of each query parameter and cookie. A difference httpbin's parsed echo cannot show (the
order or encoding of the raw query, the path) is said in a comment, and the scenario is marked not reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl

import yaml

from conformance.differential.model import Case, Difference, Observation, Upstream
from conformance.http import RequestSpec

INDENT = "    "


@dataclass
class Expectations:
    lines: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    distinguishing: bool = False  # at least one line holds on the baseline and not on the other target


def _cookies(upstream: Upstream) -> dict[str, str] | None:
    """The first value of each cookie, as the suite's cookie steps read them; None when there is no Cookie header."""
    headers = upstream.header("cookie")
    if not headers:
        return None
    cookies: dict[str, str] = {}
    for header in headers:
        for part in header.split(";"):
            name, sep, value = part.strip().partition("=")
            if sep:
                cookies.setdefault(name, value)
    return cookies


def _args(upstream: Upstream) -> dict[str, str]:
    """The first value of each query parameter, decoded as httpbin decodes `args`."""
    args: dict[str, str] = {}
    for name, value in parse_qsl(upstream.query or "", keep_blank_values=True):
        args.setdefault(name, value)
    return args


def _quoted(text: str) -> bool:
    return '"' not in text and "\n" not in text and "\r" not in text


def _upstream_expectations(a: Upstream, b: Upstream, out: Expectations) -> None:
    names = sorted(({n for n, _ in a.headers} | {n for n, _ in b.headers}) - {"cookie"})
    for name in names:
        if a.header(name) == b.header(name):
            continue
        values = b.header(name)
        joined = ",".join(values)
        if values and ",".join(a.header(name)) == joined:
            out.notes.append(f"header {name} differs only in how its values are split into lines, which httpbin joins")
            continue
        if not values:
            out.lines.append(f'the upstream receives no header "{name}"')
        elif _quoted(joined):
            out.lines.append(f'the upstream receives header "{name}" with value "{joined}"')
        else:
            out.notes.append(f"header {name} differs in a value no step can quote")
            continue
        out.distinguishing = True
    cookies_a, cookies_b = _cookies(a), _cookies(b)
    if cookies_a != cookies_b:
        if cookies_b is None:
            out.lines.append("the upstream receives no Cookie header")
            out.distinguishing = True
        else:
            for name in sorted(set(cookies_a or {}) | set(cookies_b)):
                if (cookies_a or {}).get(name) == cookies_b.get(name):
                    continue
                if name not in cookies_b:
                    out.lines.append(f'the upstream receives no cookie "{name}"')
                elif _quoted(cookies_b[name]):
                    out.lines.append(f'the upstream receives cookie "{name}" with value "{cookies_b[name]}"')
                else:
                    continue
                out.distinguishing = True
    elif a.header("cookie") != b.header("cookie"):
        out.notes.append(
            f"the Cookie header differs only in its form ({' | '.join(a.header('cookie'))!r} against "
            f"{' | '.join(b.header('cookie'))!r}), which the cookie steps do not see"
        )
    if a.query != b.query:
        args_a, args_b = _args(a), _args(b)
        shown = False
        for name in sorted(set(args_a) | set(args_b)):
            if args_a.get(name) == args_b.get(name):
                continue
            if name not in args_b:
                out.lines.append(f'the upstream receives no query parameter "{name}"')
            elif _quoted(args_b[name]) and _quoted(name):
                out.lines.append(f'the upstream receives query parameter "{name}" with value "{args_b[name]}"')
            else:
                continue
            shown = out.distinguishing = True
        if not shown:
            out.notes.append(
                f"the raw query string differs ({a.query!r} against {b.query!r}) in a way httpbin's parsed "
                f"echo does not show"
            )
    if a.path != b.path:
        out.notes.append(f"the upstream path differs ({a.path!r} against {b.path!r}); no step reads the path")


def _status_expectations(found: list[Difference], out: Expectations) -> None:
    """The baseline's Accepted condition of each policy whose status differs, in the suite's status steps."""
    for difference in found:
        if difference.aspect != "policy status":
            continue
        kind, _, where = difference.name.partition(" ")
        condition = difference.baseline
        if condition is None:
            out.notes.append(f"{difference.name} has no Accepted condition on the baseline; no step expects that")
            continue
        out.lines.append(
            f'the {kind} "{where}" has condition Accepted={condition.status} with reason {condition.reason}'
        )
        if _quoted(condition.message):
            out.lines.append(f'the {kind} "{where}" condition message is "{condition.message}"')
        out.distinguishing = True


def expectations(a: Observation, b: Observation, found: list[Difference] | None = None) -> Expectations:
    """Then-steps that hold for the baseline `b`, chosen where `a` differs (and where the policies' status does:
    `found`, the outcome's differences)."""
    out = Expectations()
    if b.error:
        out.notes.append(f"the baseline gave no HTTP answer ({b.error}); no step can expect that")
        _status_expectations(found or [], out)
        return out
    out.lines.append(f"the response status is {b.status}")
    out.distinguishing = a.status != b.status
    if a.content_type != b.content_type:
        if b.content_type is None:
            out.lines.append('the response has no header "content-type"')
        else:
            out.lines.append(f'the response header "content-type" starts with "{b.content_type}"')
        out.distinguishing = True
    if b.upstream is None and a.body != b.body and b.body is not None and _quoted(b.body):
        out.lines.append(f'the response body is "{b.body}"')
        out.distinguishing = True
    if a.upstream is not None and b.upstream is not None:
        _upstream_expectations(a.upstream, b.upstream, out)
    if a.error:
        out.distinguishing = True  # any expectation fails where nothing answered
    _status_expectations(found or [], out)
    return out


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|")


def request_steps(request: RequestSpec) -> list[str]:
    rows = (
        [("header", n, v) for n, v in request.headers]
        + [("query", n, v) for n, v in request.query]
        + [("cookie", n, v) for n, v in request.cookies]
    )
    if not rows:
        return [f'When I send a {request.method} request to "{request.path}"']
    table = [("part", "name", "value"), *((p, _cell(n), _cell(v)) for p, n, v in rows)]
    widths = [max(len(row[i]) for row in table) for i in range(3)]
    lines = [f'When I send a {request.method} request to "{request.path}" with:']
    lines += ["  | " + " | ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) + " |" for row in table]
    return lines


def manifests_yaml(manifests: tuple[dict, ...] | list[dict]) -> str:
    return yaml.safe_dump_all(list(manifests), sort_keys=False, default_flow_style=False, width=1000).strip()


def scenario(
    title: str,
    feature_tag: str,
    case: Case,
    request: RequestSpec,
    expected: Expectations,
    host: str,
    comments: list[str] | None = None,
) -> str:
    """The scenario's text, indented to sit under a Feature line."""
    lines = [f"# {c}" for c in comments or []]
    lines += [f"# not reproducible with the suite's steps: {n}" for n in expected.notes]
    lines += [f"@{feature_tag}", f"Scenario: {title}", f'{INDENT}Given the gateway routes "{host}" to httpbin']
    lines += [f"{INDENT}And the following resources are applied:", f'{INDENT}  """']
    lines += [f"{INDENT}  {line}" if line else "" for line in manifests_yaml(case.manifests).splitlines()]
    lines.append(f'{INDENT}  """')
    lines += [INDENT + line for line in request_steps(request)]
    for index, line in enumerate(expected.lines):
        lines.append(f"{INDENT}{'Then' if index == 0 else 'And'} {line}")
    return "\n".join("  " + line if line else "" for line in lines)


def feature_file(profile: str, title: str, description: str, scenarios: list[str]) -> str:
    """A whole feature file: the profile tag on the Feature, one feature tag on each scenario."""
    head = [f"@{profile}", f"Feature: {title}", *(f"  {line}" for line in description.splitlines()), ""]
    return "\n".join(head) + "\n" + "\n\n".join(scenarios) + "\n"
