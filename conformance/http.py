"""Sending a scenario's request and reading httpbin's echo of what the upstream received."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import requests


@dataclass(frozen=True)
class RequestSpec:
    method: str = "GET"
    path: str = "/headers"
    host: str = "www.example.com"
    listener_port: int | None = None  # None: the profile's listener
    headers: tuple[tuple[str, str], ...] = ()
    query: tuple[tuple[str, str], ...] = ()  # appended raw, in order
    cookies: tuple[tuple[str, str], ...] = ()  # sent as one Cookie header, in order

    def target(self) -> str:
        if not self.query:
            return self.path
        separator = "&" if "?" in self.path else "?"
        return self.path + separator + "&".join(f"{k}={v}" for k, v in self.query)

    def header_list(self) -> list[tuple[str, str]]:
        headers = [("Host", self.host), *self.headers]
        if self.cookies:
            headers.append(("Cookie", "; ".join(f"{k}={v}" for k, v in self.cookies)))
        return headers

    def curl(self, base_url: str) -> str:
        """The equivalent curl command, for notebooks and attachments."""
        parts = [f'curl -i "{base_url}{self.target()}"']
        if self.method != "GET":
            parts.insert(0, f"curl -i -X {self.method}")
            parts[1] = f'"{base_url}{self.target()}"'
        parts += [f'-H "{k}: {v}"' for k, v in self.header_list()]
        return " ".join(parts)


@dataclass
class Exchange:
    request: RequestSpec
    url: str
    status: int
    headers: dict[str, str]  # lower-case names
    body: str
    elapsed_ms: float = 0.0
    _extra: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def echo(self) -> dict[str, Any] | None:
        """httpbin's JSON echo, or None if the body is not one."""
        if "json" not in self.headers.get("content-type", ""):
            return None
        try:
            document = json.loads(self.body)
        except ValueError:
            return None
        return document if isinstance(document, dict) else None

    def _upstream_header_values(self) -> dict[str, list[str]] | None:
        """Each header the upstream received with all its values. psf/httpbin (PyPI) echoes one string per name;
        go-httpbin (the kind upstream) a list of values."""
        echo = self.echo
        if echo is None or not isinstance(echo.get("headers"), dict):
            return None
        return {k.lower(): [str(x) for x in v] if isinstance(v, list) else [str(v)] for k, v in echo["headers"].items()}

    def upstream_headers(self) -> dict[str, str] | None:
        values = self._upstream_header_values()
        # A repeated header reads as gunicorn hands it to psf/httpbin: the values joined with ",".
        return None if values is None else {name: ",".join(v) for name, v in values.items()}

    def upstream_args(self) -> dict[str, Any] | None:
        """Query parameters as psf/httpbin echoes them: a string, or a list for a repeated name (go-httpbin lists
        every value, so its single-value lists are unwrapped)."""
        echo = self.echo
        if echo is None or not isinstance(echo.get("args"), dict):
            return None
        return {k: v[0] if isinstance(v, list) and len(v) == 1 else v for k, v in echo["args"].items()}

    def upstream_cookies(self) -> dict[str, str] | None:
        values = self._upstream_header_values()
        if values is None:
            return None
        cookies: dict[str, str] = {}
        for header in values.get("cookie", []):
            for part in header.split(";"):
                name, sep, value = part.strip().partition("=")
                if sep:
                    cookies.setdefault(name, value)
        return cookies

    def describe(self) -> str:
        """Request and response as text (the caller redacts before publishing)."""
        lines = [f"{self.request.method} {self.request.target()} -> {self.url}"]
        lines += [f"> {k}: {v}" for k, v in self.request.header_list()]
        lines.append(f"< {self.status}")
        lines += [f"< {k}: {v}" for k, v in self.headers.items()]
        lines += ["", self.body[:4000]]
        return "\n".join(lines)


def direct_session() -> requests.Session:
    """A session that talks to the target itself: proxy settings from the environment do not apply (and reading
    them on every request cost more than the gateway's own work)."""
    session = requests.Session()
    session.trust_env = False
    return session


def send(session: requests.Session, base_url: str, spec: RequestSpec, timeout: float = 10.0) -> Exchange:
    url = base_url + spec.target()
    try:
        response = session.request(
            spec.method, url, headers=dict(spec.header_list()), timeout=timeout, allow_redirects=False
        )
    except requests.RequestException as error:
        # A gateway that is restarting or reconfiguring listeners: "not yet", for the consistency loop.
        return Exchange(spec, url, 0, {}, f"no response: {type(error).__name__}")
    return Exchange(
        request=spec,
        url=url,
        status=response.status_code,
        headers={k.lower(): v for k, v in response.headers.items()},
        body=response.text,
        elapsed_ms=response.elapsed.total_seconds() * 1000,
    )
