"""The kind and cluster targets' upstream is go-httpbin, the other targets' the PyPI httpbin: the harness must read
what the upstream received the same way from both echoes.

tests/kube/echo/ holds one recorded exchange per endpoint the scenarios use (/headers, /anything), sent as below
to each server on 127.0.0.1: go-httpbin v2.25.0 (the image clusters/httpbin.yaml pins) lists every header and query
value; the PyPI httpbin under gunicorn gives one string per name (a repeated header joined with ","). The PyPI
recording is checked against a live httpbin here, so it cannot drift from what that server really answers.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance.http import Exchange, RequestSpec
from conformance.steps.expectations import _received
from reference_impl.upstream import HttpbinServer

ECHO = Path(__file__).parent / "echo"
GO = json.loads((ECHO / "go-httpbin-v2.25.0.json").read_text())["exchanges"]
PSF = json.loads((ECHO / "psf-httpbin-0.10.4.json").read_text())["exchanges"]


def exchange(recorded: dict[str, Any]) -> Exchange:
    return Exchange(
        request=RequestSpec(path=recorded["request"]["target"]),
        url="http://127.0.0.1" + recorded["request"]["target"],
        status=recorded["status"],
        headers={"content-type": recorded["content_type"]},
        body=json.dumps(recorded["body"]),
    )


@pytest.mark.parametrize("recording", [GO, PSF], ids=["go-httpbin", "psf-httpbin"])
def test_headers_read_alike(recording: dict[str, Any]) -> None:
    received = exchange(recording["headers"])
    headers = received.upstream_headers()
    assert headers is not None
    assert headers["host"] == "www.example.com"
    assert headers["x-client-id"] == "alice"
    assert headers["x-dup"] == "one,two"  # a repeated header: its values in order
    assert received.upstream_cookies() == {"theme": "dark", "session": '"s-1"'}  # the first of a repeated name
    assert _received(received, "header") == headers


@pytest.mark.parametrize("recording", [GO, PSF], ids=["go-httpbin", "psf-httpbin"])
def test_query_parameters_read_alike(recording: dict[str, Any]) -> None:
    received = exchange(recording["anything"])
    assert received.upstream_args() == {"page": "2", "sort": "asc", "tag": ["a", "b"], "flag": "", "enc": "a&b"}
    # What "the upstream receives query parameter ..." compares: the first value of each name.
    assert _received(received, "query parameter") == {"page": "2", "sort": "asc", "tag": "a", "flag": "", "enc": "a&b"}


def test_go_httpbin_keeps_two_cookie_headers_apart() -> None:
    # go-httpbin lists each Cookie header; each is read on its own (gunicorn would join them with ",").
    received = exchange(GO["anything"])
    assert received.upstream_cookies() == {"theme": "dark", "lang": "en"}


def test_the_recordings_differ_in_shape() -> None:
    # The point of reading both: the raw echoes are not alike.
    assert GO["headers"]["body"]["headers"]["X-Client-Id"] == ["alice"]
    assert PSF["headers"]["body"]["headers"]["X-Client-Id"] == "alice"
    assert GO["anything"]["body"]["args"]["page"] == ["2"] and PSF["anything"]["body"]["args"]["page"] == "2"


@pytest.fixture(scope="module")
def httpbin_port() -> Iterator[int]:
    server = HttpbinServer()
    server.start()
    try:
        assert server.port is not None
        yield server.port
    finally:
        server.stop()


@pytest.mark.parametrize("name", sorted(PSF))
def test_the_psf_recording_is_what_httpbin_answers(httpbin_port: int, name: str) -> None:
    recorded = PSF[name]
    connection = http.client.HTTPConnection("127.0.0.1", httpbin_port, timeout=10)
    try:
        connection.putrequest(
            recorded["request"]["method"], recorded["request"]["target"], skip_host=True, skip_accept_encoding=True
        )
        for header, value in recorded["request"]["headers"]:
            connection.putheader(header, value)
        connection.endheaders()
        response = connection.getresponse()
        body = json.loads(response.read())
    finally:
        connection.close()
    assert response.status == recorded["status"]
    assert body == recorded["body"]
