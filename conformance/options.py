"""The harness's settings: command-line options, each with an environment variable so tox and notebooks can set it."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from conformance.consistency import ConsistencySettings
from conformance.profiles import PROFILES, parse_feature_list

ENV_PREFIX = "APIKEY_CONFORMANCE_"

# option dest -> (flag, environment variable suffix, default, help)
OPTIONS: dict[str, tuple[str, str, str | None, str]] = {
    "conformance_target": ("--target", "TARGET", "reference", "gateway under test: reference, envoy, kind or cluster"),
    "conformance_profile": (
        "--profile",
        "PROFILE",
        "all",
        "profiles to run: kgateway, agentgateway or all (comma list)",
    ),
    "supported_features": (
        "--supported-features",
        "SUPPORTED_FEATURES",
        None,
        "features the implementation supports (comma list of FEATURE or PROFILE/FEATURE, or 'all'); "
        "default: what the target declares",
    ),
    "exempt_features": ("--exempt-features", "EXEMPT_FEATURES", None, "features to treat as unsupported (comma list)"),
    "skip_scenarios": ("--skip-scenarios", "SKIP_SCENARIOS", None, "scenario names to skip (comma list)"),
    "run_scenarios": ("--run-scenarios", "RUN_SCENARIOS", None, "run only these scenario names (comma list)"),
    "consecutive_successes": (
        "--consecutive-successes",
        "CONSECUTIVE_SUCCESSES",
        "3",
        "matches in a row that make an expectation hold",
    ),
    "poll_interval": ("--poll-interval", "POLL_INTERVAL", "0.1", "seconds between attempts"),
    "max_time_to_consistency": (
        "--max-time-to-consistency",
        "MAX_TIME_TO_CONSISTENCY",
        "30",
        "seconds before an expectation fails",
    ),
    "conformance_report": (
        "--conformance-report",
        "REPORT",
        "reports/conformance-report.yaml",
        "where to write the YAML report",
    ),
    "mode": (
        "--mode",
        "MODE",
        "default",
        "the implementation's operating mode, as in Gateway API reports: 'default' unless a specific setup is used",
    ),
    "implementation_organization": ("--implementation-organization", "ORGANIZATION", None, "report: organization"),
    "implementation_project": ("--implementation-project", "PROJECT", None, "report: project"),
    "implementation_url": ("--implementation-url", "URL", None, "report: project URL"),
    "implementation_version": ("--implementation-version", "VERSION", None, "report: version under test"),
    "implementation_contact": ("--implementation-contact", "CONTACT", None, "report: contacts (comma list)"),
}


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("apikey-conformance", "API key auth conformance")
    for dest, (flag, env, default, text) in OPTIONS.items():
        group.addoption(flag, dest=dest, default=None, help=f"{text} [env {ENV_PREFIX}{env}; default {default}]")
    group.addoption(
        "--target-option",
        dest="target_options",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"target-specific setting, repeatable [env {ENV_PREFIX}TARGET_OPTIONS as KEY=VALUE,KEY=VALUE]",
    )


def _get(config: pytest.Config, dest: str) -> str | None:
    value = config.getoption(dest)
    if value is not None:
        return str(value)
    _flag, env, default, _ = OPTIONS[dest]
    return os.environ.get(ENV_PREFIX + env, default)


def _split(value: str | None) -> list[str]:
    return [item.strip() for item in (value or "").split(",") if item.strip()]


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
    target_options: dict[str, str] = field(default_factory=dict)

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
            consistency = ConsistencySettings(
                int(_get(config, "consecutive_successes") or 3),
                float(_get(config, "poll_interval") or 0.1),
                float(_get(config, "max_time_to_consistency") or 30),
            )
        except ValueError as error:
            raise pytest.UsageError(f"apikey-conformance: {error}") from None
        target_options: dict[str, str] = {}
        raw = _split(os.environ.get(ENV_PREFIX + "TARGET_OPTIONS")) + list(config.getoption("target_options") or [])
        for item in raw:
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise pytest.UsageError(f"--target-option {item!r}: expected KEY=VALUE")
            target_options[key.strip()] = value.strip()
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
            target_options=target_options,
            mode=(_get(config, "mode") or "default").strip() or "default",
        )
