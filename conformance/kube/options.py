"""Parsing of the string-valued --target-option settings the Kubernetes targets read."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

IMPLEMENTATIONS: tuple[str, ...] = ("kgateway", "agentgateway")
GATEWAY_URL_PREFIX = "gateway_url_"

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


def flag(options: Mapping[str, Any], key: str, default: bool) -> bool:
    value = options.get(key)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"target option {key}={value!r}: expected true or false")


def text(options: Mapping[str, Any], key: str, default: str | None = None) -> str | None:
    value = options.get(key)
    if value is None or str(value).strip() == "":
        return default
    return str(value).strip()


def _names(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, Iterable):
        return [str(part).strip() for part in value if str(part).strip()]
    return [str(value)]


def implementations(options: Mapping[str, Any]) -> tuple[str, ...]:
    """The implementations to run against: `implementation` (comma-separated), else those named by the
    selected profiles, else kgateway."""
    explicit = _names(options.get("implementation"))
    for name in explicit:
        if name not in IMPLEMENTATIONS:
            raise ValueError(f"target option implementation={name!r}: expected one of {', '.join(IMPLEMENTATIONS)}")
    if explicit:
        return tuple(dict.fromkeys(explicit))
    profiles = _names(options.get("profiles"))
    chosen = tuple(name for name in IMPLEMENTATIONS if name in profiles)
    return chosen or ("kgateway",)


def gateway_urls(options: Mapping[str, Any]) -> dict[int, str]:
    """`gateway_url_<listener port>=URL` options: where a listener is reachable without a port-forward."""
    urls: dict[int, str] = {}
    for key, value in options.items():
        if not key.startswith(GATEWAY_URL_PREFIX):
            continue
        port = key.removeprefix(GATEWAY_URL_PREFIX)
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"target option {key}: expected {GATEWAY_URL_PREFIX}<listener port>=URL")
        url = str(value).strip().rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"target option {key}={value!r}: expected an http:// or https:// URL")
        urls[int(port)] = url
    return urls


def poll_interval(options: Mapping[str, Any], default: float = 0.25) -> float:
    """The status poll interval from the harness's consistency settings (object or mapping), if it has one."""
    consistency = options.get("consistency")
    value = None
    if isinstance(consistency, Mapping):
        value = consistency.get("poll_interval")
    elif consistency is not None:
        value = getattr(consistency, "poll_interval", None)
    try:
        return float(value) if value is not None else default
    except (TypeError, ValueError):
        return default


def number(options: Mapping[str, Any], key: str, default: float) -> float:
    value = text(options, key)
    if value is None:
        return default
    try:
        result = float(value)
    except ValueError:
        raise ValueError(f"target option {key}={value!r}: expected a number of seconds") from None
    if result <= 0:
        raise ValueError(f"target option {key}={value!r}: expected a positive number of seconds")
    return result
