"""Sending a generated request exactly as the suite's request step sends it: through the harness's own client
(`conformance.http.Client`), so a divergence found with these bytes is what a pasted scenario sends."""

from __future__ import annotations

import http.client

from conformance.differential.model import Observation
from conformance.http import Client, RequestSpec


def send(client: Client, base_url: str, spec: RequestSpec) -> Observation:
    try:
        status, headers, body = client.request(spec.method, base_url, spec.target(), spec.header_list())
    except (OSError, http.client.HTTPException, ValueError) as error:
        return Observation.failure(f"no response: {type(error).__name__}")
    return Observation.from_response(status, headers.items(), body)
