"""Sending a scenario's request and reading httpbin's echo of what the upstream received."""

from __future__ import annotations

import http.client
import json
import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit


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

    def upstream_query(self) -> str | None:
        """The query string exactly as the upstream received it, from the echo's `url` (both httpbins rebuild the
        URL from the raw request target): "" when it had no `?`, None when the body is not an echo."""
        echo = self.echo
        if echo is None or not isinstance(echo.get("url"), str):
            return None
        _, sep, query = echo["url"].partition("?")
        return query if sep else ""

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


class Client:
    """Keep-alive HTTP/1.1 connections to the targets. A request goes out exactly as its spec says: the target and
    every header field byte for byte, repeated headers kept, nothing re-quoted (a general-purpose client rewrites
    URLs and merges headers, which would change what a scenario tests), no proxy settings from the environment."""

    def __init__(self, timeout: float = 10.0) -> None:
        self.timeout = timeout
        self._connections: dict[tuple[str, int], http.client.HTTPConnection] = {}

    def request(
        self, method: str, base_url: str, target: str, headers: list[tuple[str, str]]
    ) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(base_url)
        address = (parts.hostname or "127.0.0.1", parts.port or 80)
        for attempt in (1, 2):
            connection = self._connections.get(address)
            reused = connection is not None
            if connection is None:
                connection = self._connections[address] = http.client.HTTPConnection(*address, timeout=self.timeout)
            try:
                connection.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
                for name, value in headers:
                    connection.putheader(name, value)
                connection.endheaders()
                response = connection.getresponse()
                body = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self._drop(address)
                if attempt == 1 and reused:  # the target closed a kept-alive connection meanwhile
                    continue
                raise
            except BaseException:
                self._drop(address)
                raise
            if response.will_close:
                self._drop(address)
            found: dict[str, str] = {}
            for name, value in response.getheaders():  # repeated fields joined, as HTTP allows reading them
                name = name.lower()
                found[name] = f"{found[name]}, {value}" if name in found else value
            return response.status, found, body
        raise AssertionError("unreachable")

    def get(self, url: str) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        return self.request("GET", f"{parts.scheme}://{parts.netloc}", target, [("Host", parts.netloc)])

    def _drop(self, address: tuple[str, int]) -> None:
        connection = self._connections.pop(address, None)
        if connection is not None:
            connection.close()

    def close(self) -> None:
        for address in list(self._connections):
            self._drop(address)


def _text(body: bytes, content_type: str) -> str:
    charset = content_type.partition("charset=")[2].split(";")[0].strip() or "utf-8"
    try:
        return body.decode(charset, "replace")
    except LookupError:
        return body.decode("utf-8", "replace")


def send(client: Client, base_url: str, spec: RequestSpec) -> Exchange:
    url = base_url + spec.target()
    started = time.perf_counter()
    try:
        status, headers, body = client.request(spec.method, base_url, spec.target(), spec.header_list())
    except (OSError, http.client.HTTPException, ValueError) as error:
        # A gateway that is restarting or reconfiguring listeners: "not yet", for the consistency loop.
        return Exchange(spec, url, 0, {}, f"no response: {type(error).__name__}")
    return Exchange(
        request=spec,
        url=url,
        status=status,
        headers=headers,
        body=_text(body, headers.get("content-type", "")),
        elapsed_ms=(time.perf_counter() - started) * 1000,
    )
