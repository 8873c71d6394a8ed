"""Sending a generated request byte for byte as the suite's request step would send it, repeated headers included.

The step sends through `requests`, which re-quotes the URL (percent-escapes of unreserved characters are
decoded, unsafe characters escaped) and adds its default headers; the request target and the default headers are
taken from `requests` itself here, so a divergence found with these bytes is what a pasted scenario sends. Unlike
`requests`, every header line is sent, so repeated header names reach the gateway.
"""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

import requests

from conformance.differential.model import Observation
from conformance.http import RequestSpec

TIMEOUT = 10.0


def request_target(spec: RequestSpec) -> str:
    """The request target `requests` puts on the request line for this spec."""
    return requests.Request(spec.method, "http://gateway.invalid" + spec.target()).prepare().path_url


def header_lines(spec: RequestSpec) -> list[tuple[str, str]]:
    """Host, the step's headers in order (repeats kept), the Cookie header, then requests' default headers."""
    lines = spec.header_list()
    sent = {name.lower() for name, _ in lines}
    defaults = [(k, v) for k, v in requests.utils.default_headers().items() if k.lower() not in sent]
    return [*lines, *defaults]


def send(base_url: str, spec: RequestSpec, timeout: float = TIMEOUT) -> Observation:
    """One request on a fresh connection (no keep-alive state carries over between requests)."""
    address = urlsplit(base_url)
    connection_class = http.client.HTTPSConnection if address.scheme == "https" else http.client.HTTPConnection
    connection = connection_class(address.hostname or "127.0.0.1", address.port, timeout=timeout)
    try:
        connection.putrequest(spec.method, request_target(spec), skip_host=True, skip_accept_encoding=True)
        for name, value in header_lines(spec):
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        body = response.read()
        return Observation.from_response(response.status, response.getheaders(), body)
    except (OSError, http.client.HTTPException) as error:
        return Observation.failure(f"no response: {type(error).__name__}")
    finally:
        connection.close()
