"""Versions as the tools print them and as clusters/versions.yaml writes them, and the tool checks run against
the real kubectl of this machine when it has one."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from conformance.kube.tools import check_tool, skew_note
from conformance.kube.versions import Version, VersionRange, image_version


@pytest.mark.parametrize(
    ("printed", "version"),
    [
        ("kind v0.31.0 go1.25.5 linux/amd64", Version(0, 31, 0)),  # `kind version`
        ("kind v0.32.0-alpha.12+0123456789abcd go1.26 linux/arm64", Version(0, 32, 0)),  # a pre-release build
        ("v3.17.1+g980d8ac", Version(3, 17, 1)),  # `helm version --short`
        ("v4.0.0+g1234567", Version(4, 0, 0)),
        ("v1.32.4-dispatcher", Version(1, 32, 4)),  # a vendor's kubectl gitVersion
        ("v1.31", Version(1, 31, 0)),
        ("nothing here", None),
    ],
)
def test_versions_as_the_tools_print_them(printed: str, version: Version | None) -> None:
    assert Version.find(printed) == version


def test_pins_must_be_versions() -> None:
    assert Version.parse("v1.5.1", "gatewayApi.version") == Version(1, 5, 1)
    with pytest.raises(ValueError, match=r"gatewayApi.version: expected a version like v1.2.3, got 'latest'"):
        Version.parse("latest", "gatewayApi.version")
    with pytest.raises(ValueError, match=r"expected a version like v1.2.3, got 'v1.5.1-rc.1'"):
        Version.parse("v1.5.1-rc.1", "gatewayApi.version")


def test_ranges_compare_minor_versions() -> None:
    supported = VersionRange(Version(1, 31), Version(1, 35))
    assert supported.contains(Version(1, 31, 0)) and supported.contains(Version(1, 35, 9))
    assert not supported.contains(Version(1, 30, 14)) and not supported.contains(Version(1, 36, 0))
    assert str(supported) == "v1.31 to v1.35"
    assert str(VersionRange(Version(3, 12))) == ">= v3.12.0" and VersionRange(Version(3, 12)).contains(Version(4, 0))


def test_image_tags() -> None:
    assert image_version("kindest/node:v1.35.0@sha256:" + "0" * 64) == Version(1, 35, 0)
    assert image_version("ghcr.io/mccutchen/go-httpbin:2.25.0") == Version(2, 25, 0)
    assert image_version("kindest/node") is None


def test_kubectl_skew() -> None:
    assert skew_note(Version(1, 34, 2), Version(1, 35)) is None
    assert skew_note(Version(1, 36, 0), Version(1, 35)) is None
    assert skew_note(Version(1, 32, 4), Version(1, 35)) == (
        "kubectl v1.32.4 is more than one minor version away from Kubernetes v1.35.0; "
        "kubectl v1.34 to v1.36 is supported"
    )
    assert skew_note(None, Version(1, 35)) is None


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="no kubectl on this machine's PATH")
def test_the_real_kubectl_version_is_read() -> None:
    printed = subprocess.run(
        ["kubectl", "version", "--client", "--output=json"], capture_output=True, text=True, check=True
    ).stdout
    expected = Version.find(json.loads(printed)["clientVersion"]["gitVersion"])
    check = check_tool("kubectl", Version(1, 0))
    assert check.path == shutil.which("kubectl")
    assert check.version == expected is not None
    assert check.problem is None
    too_new = Version(expected.major, expected.minor + 1)
    assert check_tool("kubectl", too_new).problem == (
        f"kubectl {expected} ({check.path}) is older than {too_new}, the minimum in clusters/versions.yaml"
    )
