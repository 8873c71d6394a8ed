"""A key in every form it can travel in never reaches anything the harness publishes.

The forms a certification reviewer asks for: plain; percent-encoded with `%20` and with `+` for a
space, upper- and lower-case hex; base64 and base64url; JSON-escaped; a quoted cookie value; the `Bearer ` form.
They are computed here with the standard library, independently of conformance.redact, put into a real run
against the reference gateway (Secret, request headers, query, cookie, a deliberately failing expectation
that quotes the upstream's echo, and an Outline whose only value is the key), and looked for in the report,
every allure file, the terminal output (failure messages, node ids, the gateway's access log) afterwards, and
in what the notebook helpers show in a cell.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import textwrap
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import quote, quote_plus, unquote, unquote_plus

import pytest

from conformance.redact import MARKER, Redactor, key_forms

KEY = 'Leak key/with+plus&eq="quoted" \\back~slash????'  # its base64 has '/' and padding


def _lower(encoded: str) -> str:
    out, i = [], 0
    while i < len(encoded):
        if encoded[i] == "%":
            out.append(encoded[i : i + 3].lower())
            i += 3
        else:
            out.append(encoded[i])
            i += 1
    return "".join(out)


def forms(key: str) -> dict[str, str]:
    cookie: SimpleCookie = SimpleCookie()
    cookie["session"] = key
    found = {
        "plain": key,
        "percent %20 upper": quote(key, safe=""),
        "percent %20 lower": _lower(quote(key, safe="")),
        "percent + upper": quote_plus(key, safe=""),
        "percent + lower": _lower(quote_plus(key, safe="")),
        "percent keeping / (urllib default)": quote(key),
        "base64": base64.b64encode(key.encode()).decode(),
        "base64url": base64.urlsafe_b64encode(key.encode()).decode(),
        "base64url unpadded": base64.urlsafe_b64encode(key.encode()).decode().rstrip("="),
        "JSON-escaped": json.dumps(key)[1:-1],
        "quoted cookie value": cookie["session"].coded_value,
        "Bearer form": f"Bearer {key}",
    }
    assert len(set(found.values())) == len(found), "the key must make every form distinct"
    return found


def test_the_test_key_makes_every_form_distinct_and_the_redactor_knows_each() -> None:
    every = forms(KEY)
    assert every["percent + upper"] != every["percent %20 upper"] != every["percent %20 lower"]
    assert every["base64"] != every["base64url"] and "\\" in every["JSON-escaped"]
    assert every["quoted cookie value"].startswith('"')
    redactor = Redactor()
    redactor.add_manifests([{"kind": "Secret", "stringData": {"leaker": KEY}}])
    for name, form in every.items():
        redacted = redactor.redact(f"before {form} after")
        assert KEY not in redacted and form not in redacted, name
        assert MARKER in redacted, name
    # Non-ASCII keys too: JSON escapes them (\u00e9), percent-encoding writes their UTF-8 bytes.
    accented = "clé-sécrète-0001"
    assert {json.dumps(accented)[1:-1], quote(accented), accented.encode().hex()} - key_forms(accented) == {
        accented.encode().hex()  # not a form a key travels in
    }


def test_keys_in_agentgateway_json_entries_are_known_however_go_would_read_them() -> None:
    # agentgateway decodes entries with Go's encoding/json: "KEY" fills the key field as "key" does.
    redactor = Redactor()
    shouting, unparsed = "Shouting-Entry-Key-91c2", '{"Key": "Unterminated-Entry-Key-5d0e"'
    redactor.add_manifests([{"kind": "Secret", "stringData": {"a": json.dumps({"KEY": shouting}), "b": unparsed}}])
    assert redactor.redact(f"Bearer {shouting}") == f"Bearer {MARKER}"
    assert redactor.redact("Bearer Unterminated-Entry-Key-5d0e") == f"Bearer {MARKER}"


def test_a_key_known_only_by_its_hash_is_redacted_once_a_request_presents_it() -> None:
    key = "hashed-only-key-5be2c9"
    digest = hashlib.sha256(key.encode()).hexdigest()
    redactor = Redactor()
    redactor.add_manifests(
        [{"kind": "ConfigMap", "metadata": {"name": "k"}, "data": {"a": json.dumps({"keyHash": f"sha256:{digest}"})}}]
    )
    assert key not in redactor.secrets
    redactor.add_presented(["Bearer " + key, "not-the-key", ""])
    assert key in redactor.secrets and "not-the-key" not in redactor.secrets
    assert redactor.redact(f"saw {key}") == f"saw {MARKER}"


def test_a_key_in_a_json_entry_that_does_not_parse_is_still_redacted() -> None:
    # The gateway refuses such an entry, but a typo in the JSON does not make the key in it any less secret.
    redactor = Redactor()
    broken = {"typo": '{"key": "typo-key-0e1f", "metadata": {', "unquoted": '{"key": "esc\\"aped-key-77"'}
    redactor.add_manifests([{"kind": "Secret", "stringData": broken}])
    for presented in ("Bearer typo-key-0e1f", 'esc"aped-key-77', broken["typo"], quote("typo-key-0e1f")):
        assert redactor.redact(f"<{presented}>") in ("<Bearer [REDACTED]>", "<[REDACTED]>"), presented


def _cell(value: str) -> str:
    return value.replace("\\", "\\\\").replace("|", "\\|")


def _feature(key: str) -> str:
    every = forms(key)
    headers = "\n".join(
        f"      | header | x-form-{i} | {_cell(form)} |" for i, form in enumerate(every.values()) if form != key
    )
    query = "\n".join(
        f"      | query | q{i} | {_cell(form)} |" for i, (name, form) in enumerate(every.items()) if "percent" in name
    )
    yaml_key = key.replace("'", "''")
    return (
        textwrap.dedent(
            """\
        @kgateway @APIKeyAuthForwardCredential
        Feature: a key in every form it can travel in

          Background:
            Given the gateway routes "www.example.com" to httpbin
            And the following resources are applied:
              \"\"\"
              apiVersion: v1
              kind: Secret
              metadata: {name: leak, namespace: kgateway-system}
              stringData:
                leaker: 'YAML_KEY'
              ---
              apiVersion: gateway.kgateway.dev/v1alpha1
              kind: TrafficPolicy
              metadata: {name: leak, namespace: kgateway-system}
              spec:
                targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: http}]
                apiKeyAuth:
                  secretRef: {name: leak}
                  keySources: [{header: api-key}]
                  forwardCredential: true
              \"\"\"

          Scenario: every form goes through and a failure quotes the upstream's echo
            When I send a GET request to "/anything" with:
              | part | name | value |
              | header | api-key | Bearer KEY_CELL |
        HEADERS
        QUERY
              | cookie | session | COOKIE_CELL |
            Then the response status is 200
            And the response body is "not the echo"

          Scenario Outline: an example whose only value is the key
            When I send a GET request to "/headers" with:
              | part | name | value |
              | header | api-key | <key> |
            Then the response status is 401

            Examples:
              | key |
              | KEY_CELL |
              | Bearer KEY_CELL |
        """
        )
        .replace("YAML_KEY", yaml_key)
        .replace("KEY_CELL", _cell(key))
        .replace("HEADERS", headers)
        .replace("QUERY", query)
        .replace("COOKIE_CELL", _cell(every["quoted cookie value"]))
    )


def test_no_form_of_a_key_reaches_the_report_allure_failure_messages_or_gateway_logs(tmp_path: Path) -> None:
    (tmp_path / "leak.feature").write_text(_feature(KEY), encoding="utf-8")
    (tmp_path / "test_leak.py").write_text(
        "from pathlib import Path\n\nfrom conformance.scenarios import bind\n\nbind(globals(), Path(__file__).parent)\n"
    )
    report, allure_dir = tmp_path / "out" / "report.yaml", tmp_path / "out" / "allure"
    command = [
        sys.executable,
        "-m",
        "pytest",
        str(tmp_path / "test_leak.py"),
        "--rootdir=/",
        "-p",
        "no:cacheprovider",
        "-v",
        "-rA",
        "--profile=kgateway",
        "--max-time-to-consistency=1",
        f"--conformance-report={report}",
        f"--alluredir={allure_dir}",
        # The gateway's own logs (its access log names the client, never the key) into the terminal output.
        "-o",
        "log_cli=true",
        "--log-cli-level=DEBUG",
        "--log-level=DEBUG",
    ]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path, check=False)
    output = completed.stdout + completed.stderr
    assert completed.returncode == 1, output[-3000:]  # the deliberate failures

    published = {"terminal output": output}
    written = [p for p in report.parent.rglob("*") if p.is_file()]
    published |= {str(p.relative_to(tmp_path)): p.read_text(errors="replace") for p in written}
    assert any(name.endswith("report.subset.yaml") for name in published)  # a scenario file of its own: a subset
    assert len([p for p in written if p.name.endswith("-attachment.txt")]) >= 3
    # The run really carried the key: the gateway accepted it (its access log says so) and failures quote echoes.
    assert '"client": "leaker"' in output or '"client":"leaker"' in output
    assert "expected body 'not the echo'" in output and "expected status 401, got 200" in output
    assert MARKER in published["terminal output"]
    assert sum(MARKER in text for name, text in published.items() if "allure" in name) >= 5

    leaks = [
        (where, name)
        for where, text in published.items()
        for name, form in forms(KEY).items()
        if form in text or KEY in unquote(text) or KEY in unquote_plus(text)
    ]
    assert leaks == []


def test_no_form_of_a_key_reaches_a_notebook_cell_output() -> None:
    """What the notebook helpers show (text and HTML): manifests, a response with its curl command, httpbin's
    echo, a failing expectation's message."""
    pytest.importorskip("pandas")
    from conformance.notebook import Playground, show_yaml

    every = forms(KEY)
    yaml_key = KEY.replace("'", "''")
    secret = (
        "apiVersion: v1\nkind: Secret\nmetadata: {name: nb, namespace: kgateway-system}\n"
        f"stringData:\n  nb: '{yaml_key}'\n"
    )
    policy = """
apiVersion: gateway.kgateway.dev/v1alpha1
kind: TrafficPolicy
metadata: {name: nb, namespace: kgateway-system}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: http}]
  apiKeyAuth: {secretRef: {name: nb}, keySources: [{header: api-key}], forwardCredential: true}
"""
    shown: list[object] = [show_yaml(secret, "kubectl apply -f -")]
    with Playground.start(profile="kgateway") as gw:
        gw.apply(gw.base_manifests())
        shown.append(gw.apply(secret + "---\n" + policy))
        shown.append(gw.get("Secret", "kgateway-system", "nb"))
        headers = {"api-key": every["Bearer form"], **{f"x-form-{i}": form for i, form in enumerate(every.values())}}
        query = [(f"q{i}", form) for i, (name, form) in enumerate(every.items()) if "percent" in name]
        response = gw.request("GET", "/anything", headers=headers, query=query, expect=200)
        shown.append(response)
        assert response.upstream_headers()["api-key"] == every["Bearer form"]  # the key really went through
        with pytest.raises(AssertionError) as failure:
            gw.request("GET", "/anything", headers=headers, query=query, expect=401)
        shown.append(failure.value)
    outputs = [str(repr(view)) for view in shown] + [view._repr_html_() for view in shown[:-1]]
    assert sum(MARKER in text for text in outputs) >= 5
    leaks = [
        (i, name)
        for i, text in enumerate(outputs)
        for name, form in every.items()
        if form in text or KEY in unquote(text) or KEY in unquote_plus(text)
    ]
    assert leaks == []


def test_a_refused_entry_never_breaks_a_json_report() -> None:
    # A refused entry is redacted whole, and never takes a JSON string's quotes with it (allure results are JSON).
    redactor = Redactor()
    for entry in ('{"key" "refused-entry-key-31ab"}', '{"key": ["refused-entry-key-31ab"]}'):
        redactor.add_manifests([{"kind": "Secret", "stringData": {"bad": entry}}])
        report = json.dumps({"parameters": [{"name": "value", "value": entry}]})
        redacted = redactor.redact(report)
        assert json.loads(redacted)["parameters"][0]["value"] == MARKER
        assert "refused-entry-key-31ab" not in redacted
        assert redactor.redact(f"bad: '{entry}'") == f"bad: '{MARKER}'"  # as a published manifest shows it
