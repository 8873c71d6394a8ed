"""Access log and counters: one line per request with route, decision and client; per-client counters on
the admin endpoint; and no key value anywhere (logs, status, admin output, errors)."""

from __future__ import annotations

import json
import logging
import time

import pytest
from refsupport import AG_INVALID, GUIDE_KEY, KG_401, MULTI_KEYS, fetch, parse_manifest, secret, target, traffic_policy

from reference_impl.errors import ManifestError
from reference_impl.resources import load_manifests

MULTI_POLICY = "TrafficPolicy default/multi"
WRONG_KEY = "wrong-key-value-that-must-not-leak-5150"


def access_lines(caplog, expected: int | None = None) -> list[dict]:
    """The access-log lines so far; with `expected`, wait briefly for the gateway thread to write the last ones
    (a line is written just after the response is sent, so the client can be a little ahead)."""
    deadline = time.monotonic() + 5
    while True:
        lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "reference_impl.access"]
        if expected is None or len(lines) >= expected or time.monotonic() > deadline:
            return lines
        time.sleep(0.01)


def counts(served, policy: str) -> dict[str, dict[str, int]]:
    return served.admin_json("/stats")["clients"].get(policy, {})


def delta(before: dict, after: dict, client: str, field: str) -> int:
    return after.get(client, {}).get(field, 0) - before.get(client, {}).get(field, 0)


def test_per_client_counters_match_requests(served):
    before = counts(served, MULTI_POLICY)
    sent = {"svc-a": 3, "svc-b": 2}
    for client, times in sent.items():
        for _ in range(times):
            assert (
                fetch(served.extra, "/get", host="multi.test", headers={"x-api-key": MULTI_KEYS[client]}).status == 200
            )
    for _ in range(4):
        assert fetch(served.extra, "/get", host="multi.test").status == 401
    for _ in range(5):
        assert fetch(served.extra, "/get", host="multi.test", headers={"x-api-key": WRONG_KEY}).status == 401
    after = counts(served, MULTI_POLICY)
    assert delta(before, after, "svc-a", "allowed") == 3
    assert delta(before, after, "svc-b", "allowed") == 2
    assert delta(before, after, "svc-a", "denied") == 0
    assert delta(before, after, "<missing>", "denied") == 4
    assert delta(before, after, "<invalid>", "denied") == 5
    assert WRONG_KEY not in json.dumps(after)


def test_one_access_line_per_request_with_route_decision_client(served, caplog):
    caplog.set_level(logging.INFO, logger="reference_impl.access")
    fetch(served.extra, "/get", host="multi.test", headers={"x-api-key": MULTI_KEYS["svc-a"]})
    fetch(served.extra, "/get", host="multi.test", headers={"x-api-key": WRONG_KEY})
    fetch(served.extra, "/get", host="multi.test")
    fetch(served.extra, "/get", host="open.test")
    fetch(served.extra, "/get", host="nowhere.test")
    lines = access_lines(caplog, 5)
    assert len(lines) == 5
    by_decision = [(line["route"], line["decision"], line["client"], line["status"]) for line in lines]
    assert by_decision == [
        ("default/multi/0", "allowed", "svc-a", 200),
        ("default/multi/0", "invalid", None, 401),
        ("default/multi/0", "missing", None, 401),
        ("default/open/0", "no-auth", None, 200),
        (None, "no-route", None, 404),
    ]
    assert lines[0]["policy"] == MULTI_POLICY
    assert lines[0]["host"] == "multi.test" and lines[0]["listener"] == 8181
    assert all(line["method"] == "GET" and line["path"] == "/get" for line in lines)


def test_no_key_in_any_log_line(served, caplog):
    caplog.set_level(logging.DEBUG)  # every logger, every level, gateway thread included
    key_a, key_b = MULTI_KEYS["svc-a"], MULTI_KEYS["svc-b"]
    requests = [
        dict(headers={"x-api-key": key_a}),
        dict(headers={"x-api-key": f"Bearer {key_b}"}),
        dict(path=f"/get?api_key={key_a}&x=1"),
        dict(headers={"Cookie": f"api_key={key_b}; other=1"}),
        dict(headers={"x-api-key": WRONG_KEY}),
        dict(path=f"/get?api_key={WRONG_KEY}"),
        dict(headers={"Cookie": f"api_key={WRONG_KEY}"}),
    ]
    for kwargs in requests:
        fetch(served.extra, kwargs.get("path", "/get"), host="multi.test", headers=kwargs.get("headers"))
    fetch(served.kgateway, "/headers", headers={"api-key": f"Bearer {GUIDE_KEY}"})
    fetch(served.agentgateway, "/headers", headers={"Authorization": f"Bearer {GUIDE_KEY}"})
    assert fetch(served.agentgateway, "/headers", headers={"Authorization": f"Bearer {WRONG_KEY}"}).body == AG_INVALID
    lines = access_lines(caplog, len(requests) + 3)
    assert len(lines) == len(requests) + 3
    everything = "\n".join(r.getMessage() for r in caplog.records) + "\n" + caplog.text
    for secret_value in (key_a, key_b, GUIDE_KEY, WRONG_KEY):
        assert secret_value not in everything
    assert "api_key=" not in everything  # the query string is never logged


def test_no_key_in_admin_output(served):
    # make sure the counters have something to show first
    fetch(served.extra, "/get", host="multi.test", headers={"x-api-key": MULTI_KEYS["svc-a"]})
    for path in ("/status", "/stats", "/config", "/", "/ready"):
        reply = fetch(served.admin, path, host="localhost")
        assert reply.status == 200
        for secret_value in (*MULTI_KEYS.values(), GUIDE_KEY):
            assert secret_value not in reply.text, path
    config = served.admin_json("/config")
    routes = {r["rule"]: r for listener in config["listeners"] for r in listener["routes"]}
    assert routes["default/multi/0"]["keys"] == 2  # how many keys, never which
    assert routes["default/multi/0"]["policy"] == MULTI_POLICY


def test_no_key_in_status_messages_or_errors(served):
    leaked = "duplicated-key-value-0000"
    documents = [
        secret("dup-keys", namespace="leak-test", alice=leaked, bob=leaked),
        traffic_policy(
            "dup", namespace="leak-test", targets=[target("Gateway", "none")], secretRef={"name": "dup-keys"}
        ),
    ]
    served.store.apply([parse_manifest(d) for d in documents])
    try:
        condition = served.store.status("TrafficPolicy", "leak-test", "dup")
        assert condition.reason == "Invalid"
        assert leaked not in condition.message
        assert leaked not in fetch(served.admin, "/status", host="localhost").text
    finally:
        served.store.delete("TrafficPolicy", "leak-test", "dup")
        served.store.delete("Secret", "leak-test", "dup-keys")
    with pytest.raises(ManifestError) as caught:
        load_manifests(f"apiVersion: v1\nkind: Secret\nmetadata: {{name: s}}\ndata: {{k: '{leaked}!!'}}\n")
    assert leaked not in str(caught.value) and leaked not in repr(caught.value)


def test_denied_bodies_never_echo_the_key(served):
    reply = fetch(served.extra, "/get", host="multi.test", headers={"x-api-key": WRONG_KEY})
    assert reply.body == KG_401
    assert all(WRONG_KEY not in value for _, value in reply.headers)
