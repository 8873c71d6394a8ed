"""The harness's settings: each a command-line flag, an environment variable and an ini setting, read in that order.

The environment variable of `--poll-interval` is APIKEY_CONFORMANCE_POLL_INTERVAL and its ini setting
`apikey_conformance_poll_interval` (under `[pytest]` or `[tool.pytest.ini_options]`). Defaults live in one place
each: the consistency ones are ConsistencySettings' own, the others in OPTIONS below. Target settings
(`--target-option`) are typed by each target's model (conformance.targets.options).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import pytest

from conformance.consistency import ConsistencySettings
from conformance.profiles import PROFILES, parse_feature_list
from conformance.targets.options import GATEWAY_URL_PREFIX, option_names

ENV_PREFIX = "APIKEY_CONFORMANCE_"
INI_PREFIX = "apikey_conformance_"
_CONSISTENCY = {f.name: f.default for f in fields(ConsistencySettings)}


@dataclass(frozen=True)
class Setting:
    flag: str
    env: str  # after ENV_PREFIX; the ini name is INI_PREFIX + this, lower-cased
    default: str | None
    help: str

    @property
    def variable(self) -> str:
        return ENV_PREFIX + self.env

    @property
    def ini(self) -> str:
        return INI_PREFIX + self.env.lower()


# option dest -> its flag, environment variable, default and help
OPTIONS: dict[str, Setting] = {
    "conformance_target": Setting(
        "--target", "TARGET", "reference", "gateway under test (`apikey-conformance targets` lists them)"
    ),
    "conformance_profile": Setting(
        "--profile", "PROFILE", "all", "profiles to run: kgateway, agentgateway or all (comma list)"
    ),
    "supported_features": Setting(
        "--supported-features",
        "SUPPORTED_FEATURES",
        None,
        "features the implementation supports (comma list of FEATURE or PROFILE/FEATURE, or 'all'); "
        "default: what the target declares",
    ),
    "exempt_features": Setting(
        "--exempt-features", "EXEMPT_FEATURES", None, "features to treat as unsupported (comma list)"
    ),
    "skip_scenarios": Setting("--skip-scenarios", "SKIP_SCENARIOS", None, "scenario names to skip (comma list)"),
    "run_scenarios": Setting("--run-scenarios", "RUN_SCENARIOS", None, "run only these scenario names (comma list)"),
    "consecutive_successes": Setting(
        "--consecutive-successes",
        "CONSECUTIVE_SUCCESSES",
        str(_CONSISTENCY["required_consecutive_successes"]),
        "matches in a row that make an expectation hold",
    ),
    "poll_interval": Setting(
        "--poll-interval", "POLL_INTERVAL", str(_CONSISTENCY["poll_interval"]), "seconds between attempts"
    ),
    "max_time_to_consistency": Setting(
        "--max-time-to-consistency",
        "MAX_TIME_TO_CONSISTENCY",
        f"{_CONSISTENCY['max_time_to_consistency']:g}",
        "seconds before an expectation fails",
    ),
    "conformance_report": Setting(
        "--conformance-report", "REPORT", "reports/conformance-report.yaml", "where to write the YAML report"
    ),
    "mode": Setting(
        "--mode",
        "MODE",
        "default",
        "the implementation's operating mode, as in Gateway API reports: 'default' unless a specific setup is used",
    ),
    "implementation_organization": Setting(
        "--implementation-organization", "ORGANIZATION", None, "report: organization"
    ),
    "implementation_project": Setting("--implementation-project", "PROJECT", None, "report: project"),
    "implementation_url": Setting("--implementation-url", "URL", None, "report: project URL"),
    "implementation_version": Setting("--implementation-version", "VERSION", None, "report: version under test"),
    "implementation_contact": Setting("--implementation-contact", "CONTACT", None, "report: contacts (comma list)"),
}
TARGET_OPTIONS = Setting(
    "--target-option",
    "TARGET_OPTIONS",
    None,
    "target setting KEY=VALUE, repeatable (`apikey-conformance targets` lists each target's)",
)


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("apikey-conformance", "API key auth conformance")
    for dest, setting in OPTIONS.items():
        where = f"env {setting.variable}, ini {setting.ini}; default {setting.default}"
        group.addoption(setting.flag, dest=dest, default=None, help=f"{setting.help} [{where}]")
        parser.addini(setting.ini, f"{setting.help} (as {setting.flag})", default=None)
    group.addoption(
        TARGET_OPTIONS.flag,
        dest="target_options",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"{TARGET_OPTIONS.help} [env {TARGET_OPTIONS.variable} as KEY=VALUE,KEY=VALUE; ini {TARGET_OPTIONS.ini}]",
    )
    parser.addini(TARGET_OPTIONS.ini, "target settings, one KEY=VALUE a line (as --target-option)", type="linelist")


def setting(dest: str, flag: Any = None, environ: Mapping[str, str] = os.environ, ini: Any = None) -> str | None:
    """One setting's value: the flag, else the environment variable, else the ini setting, else the default."""
    spec = OPTIONS[dest]
    for value in (flag, environ.get(spec.variable), ini):
        if value is not None and str(value) != "":
            return str(value)
    return spec.default


def _get(config: pytest.Config, dest: str) -> str | None:
    return setting(dest, config.getoption(dest), os.environ, config.getini(OPTIONS[dest].ini))


def consistency_settings(values: Mapping[str, str | None]) -> ConsistencySettings:
    """ConsistencySettings from the three settings' text values (missing ones: their defaults)."""

    def value(dest: str) -> str:
        return values.get(dest) or str(OPTIONS[dest].default)

    return ConsistencySettings(
        int(value("consecutive_successes")),
        float(value("poll_interval")),
        float(value("max_time_to_consistency")),
    )


def consistency_from_env(environ: Mapping[str, str] = os.environ) -> ConsistencySettings:
    """The consistency settings a notebook or script gets from the environment, as the suite reads them."""
    dests = ("consecutive_successes", "poll_interval", "max_time_to_consistency")
    return consistency_settings({dest: setting(dest, environ=environ) for dest in dests})


def _split(value: str | None) -> list[str]:
    return [item.strip() for item in (value or "").split(",") if item.strip()]


def split_target_options(text: str | None) -> list[str]:
    """APIKEY_CONFORMANCE_TARGET_OPTIONS as KEY=VALUE items: split on commas, where a piece that does not begin with
    the name of a target option (a `backends` map's next entry, `a=http://x,b=http://y`) belongs to the item
    before it."""
    names = option_names()
    items: list[str] = []
    for piece in (part.strip() for part in (text or "").split(",")):
        if not piece:
            continue
        key = piece.partition("=")[0].strip()
        if items and key not in names and not key.startswith(GATEWAY_URL_PREFIX):
            items[-1] += "," + piece
        else:
            items.append(piece)
    return items


def target_option_items(config: pytest.Config) -> dict[str, str]:
    """--target-option over the environment over the ini setting: KEY -> VALUE (strings, typed by the target)."""
    merged: dict[str, str] = {}
    sources = (
        [str(line) for line in config.getini(TARGET_OPTIONS.ini) or []],
        split_target_options(os.environ.get(TARGET_OPTIONS.variable)),
        list(config.getoption("target_options") or []),
    )
    for items in sources:
        for item in items:
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise pytest.UsageError(f"--target-option {item!r}: expected KEY=VALUE")
            merged[key.strip()] = value.strip()
    return merged


@dataclass(frozen=True)
class HarnessOptions:
    target: str
    profiles: tuple[str, ...]
    supported_features: set[str] | None
    exempt_features: set[str]
    skip_scenarios: frozenset[str]
    run_scenarios: frozenset[str]
    consistency: ConsistencySettings
    report_path: Path
    implementation: dict[str, Any]
    mode: str = "default"
    target_options: dict[str, str] = field(default_factory=dict)  # as given; the target's model types them

    @classmethod
    def from_config(cls, config: pytest.Config) -> HarnessOptions:
        profile_value = _get(config, "conformance_profile") or "all"
        profiles = tuple(PROFILES) if profile_value == "all" else tuple(_split(profile_value))
        for profile in profiles:
            if profile not in PROFILES:
                raise pytest.UsageError(
                    f"--profile: unknown profile {profile!r}; expected kgateway, agentgateway or all"
                )
        try:
            supported = parse_feature_list(_get(config, "supported_features"))
            exempt = parse_feature_list(_get(config, "exempt_features")) or set()
            consistency = consistency_settings(
                {d: _get(config, d) for d in ("consecutive_successes", "poll_interval", "max_time_to_consistency")}
            )
        except ValueError as error:
            raise pytest.UsageError(f"apikey-conformance: {error}") from None
        return cls(
            target=_get(config, "conformance_target") or "reference",
            profiles=profiles,
            supported_features=supported,
            exempt_features=exempt,
            skip_scenarios=frozenset(_split(_get(config, "skip_scenarios"))),
            run_scenarios=frozenset(_split(_get(config, "run_scenarios"))),
            consistency=consistency,
            report_path=Path(_get(config, "conformance_report") or "reports/conformance-report.yaml"),
            implementation={
                "organization": _get(config, "implementation_organization") or "",
                "project": _get(config, "implementation_project") or "",
                "url": _get(config, "implementation_url") or "",
                "version": _get(config, "implementation_version") or "",
                "contact": _split(_get(config, "implementation_contact")),
            },
            target_options=target_option_items(config),
            mode=(_get(config, "mode") or "default").strip() or "default",
        )
