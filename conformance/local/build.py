"""The local target's binaries, built from Go modules at the versions clusters/versions.yaml pins.

Each component is a wrapper module in clusters/local/modules/ (a go.mod and a go.sum: the requirement and its lock,
no upstream source). `go build -mod=readonly` builds it from the Go module proxy into a per-user cache, keyed by
its version and the digest of its module files and build flags, so a warm start reuses it. A cold build of
kube-apiserver, kgateway or agentgateway takes about ten minutes on two cores; progress is logged while it runs.
agentgateway's controller and this project's xDS reader (xdsdump, in the same wrapper module) need a module that is
generated code (conformance/local/agentgateway.py, `generate_api`): they build from a copy of the wrapper module.

`python -m conformance.local.build` builds them all ahead of a run.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from conformance.kube.recipes import clusters_dir

log = logging.getLogger("conformance.local")

HEARTBEAT = 60.0  # seconds between "still building" lines
#: CI sets this: a machine that cannot run the local target is then a failure, not a skip.
REQUIRED = "APIKEY_CONFORMANCE_REQUIRE_LOCAL"
# Upstream's stamping of a Kubernetes build (hack/lib/version.sh): without it /version says v0.0.0-master.
K8S_VERSION_PACKAGES = ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version")


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "apikey-conformance" / "go"


class BuildError(RuntimeError):
    """A component could not be built; the message says which, why, and where the whole output is."""


@dataclass(frozen=True)
class Component:
    name: str  # the binary's name
    module: Path  # the wrapper module's folder
    package: str  # the Go package of the main function
    version: str
    ldflags: tuple[str, ...] = ()
    cold_minutes: int = 10  # about how long a build with cold caches takes on two cores
    generate: Callable[[Path, dict[str, str]], None] | None = field(default=None, compare=False)
    # This project's own Go files the binary is built from (globs under the module), so an edit rebuilds it.
    sources: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """The cache key: the version and a digest of everything that decides the binary."""
        digest = hashlib.sha256()
        files = {*self.module.rglob("go.*"), *(path for pattern in self.sources for path in self.module.glob(pattern))}
        for path in sorted(files):
            digest.update(path.relative_to(self.module).as_posix().encode() + b"\0" + path.read_bytes())
        digest.update("\0".join((self.package, *self.ldflags)).encode())
        return f"{self.version}-{digest.hexdigest()[:12]}"


def components(root: Path | None = None) -> dict[str, Component]:
    """The local target's Go components as clusters/versions.yaml pins them."""
    root = root or clusters_dir()
    pins: dict[str, Any] = yaml.safe_load((root / "versions.yaml").read_text(encoding="utf-8"))["local"]

    def component(key: str, name: str, ldflags: tuple[str, ...] = (), minutes: int = 10, **more: Any) -> Component:
        spec = pins[key]
        return Component(name, root / spec["module"], spec["package"], spec["version"], ldflags, minutes, **more)

    kubernetes = pins["kubeApiserver"]["version"]
    major, minor = kubernetes.removeprefix("v").split(".")[:2]
    stamp = tuple(
        f"-X {package}.{name}={value}"
        for package in K8S_VERSION_PACKAGES
        for name, value in (
            ("gitVersion", kubernetes),
            ("gitMajor", major),
            ("gitMinor", minor),
            ("gitTreeState", "clean"),
        )
    )
    kgateway = pins["kgateway"]["version"]
    agentgateway = pins["agentgateway"]["version"]
    # Imported here: agentgateway.py builds on this module. Its hook generates the api module both builds need.
    from conformance.local.agentgateway import generate_api

    return {
        "etcd": component("etcd", "etcd", minutes=2),
        "kube-apiserver": component("kubeApiserver", "kube-apiserver", stamp, 10),
        "kgateway": component(
            "kgateway", "kgateway", (f"-X github.com/kgateway-dev/kgateway/v2/pkg/version.Version={kgateway}",), 12
        ),
        "agentgateway": component(
            "agentgateway",
            "agentgateway",
            (f"-X github.com/agentgateway/agentgateway/controller/pkg/version.Version={agentgateway}",),
            12,
            generate=generate_api,
        ),
        "agentgateway-xds": component(
            "agentgatewayXds", "agentgateway-xds", (), 3, generate=generate_api, sources=("xdsdump/*.go",)
        ),
    }


def go_version(go: str = "go") -> tuple[int, int] | None:
    """The Go toolchain's (major, minor), or None if there is none."""
    try:
        out = subprocess.run([go, "version"], capture_output=True, text=True, timeout=60, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r"go(\d+)\.(\d+)", out)
    return (int(found[1]), int(found[2])) if found else None


def go_problem(minimum: str, go: str = "go") -> str | None:
    """Why the Go toolchain cannot build the components, or None."""
    if shutil.which(go) is None:
        return f"Go is not installed ({go} is not on PATH); the local target builds its parts with Go {minimum}+"
    have = go_version(go)
    want = tuple(int(part) for part in minimum.split(".")[:2])
    if have is None:
        return f"`{go} version` did not say which Go this is"
    if have < want:
        return f"Go {have[0]}.{have[1]} is too old: the local target's modules need Go {minimum} or newer"
    return None


def go_minimum(root: Path | None = None) -> str:
    pins = yaml.safe_load(((root or clusters_dir()) / "versions.yaml").read_text(encoding="utf-8"))
    return str(pins["local"]["go"]["minimum"])


def build_env() -> dict[str, str]:
    """The module files decide every version (-mod=readonly: go.sum is the lock), and Go is the one installed."""
    env = dict(os.environ)
    env["CGO_ENABLED"] = "0"
    env["GOFLAGS"] = " ".join(filter(None, (env.get("GOFLAGS", ""), "-mod=readonly")))
    env["GOTOOLCHAIN"] = "local"
    return env


def binary(component: Component, *, cache: Path | None = None, go: str = "go") -> Path:
    """The component's binary: from the cache, or built now (progress is logged, a failure says why)."""
    folder = (cache or cache_dir()) / component.name / component.key
    target = folder / component.name
    if target.is_file() and os.access(target, os.X_OK):
        return target
    folder.mkdir(parents=True, exist_ok=True)
    log_path = folder / "build.log"
    started = time.monotonic()
    log.info(
        "building %s %s from the Go module proxy (the first time only; about %d minutes on two cores)",
        component.name,
        component.version,
        component.cold_minutes,
    )
    env = build_env()
    with tempfile.TemporaryDirectory(prefix=f"build-{component.name}-") as scratch:
        source = component.module
        if component.generate is not None:  # a module that needs generated code builds from a copy
            source = Path(scratch) / "module"
            shutil.copytree(component.module, source)
            component.generate(source, env)
        output = Path(scratch) / component.name
        command = [go, "build", "-trimpath", "-ldflags", " ".join(("-s", "-w", *component.ldflags))]
        run_logged([*command, "-o", str(output), component.package], source, env, log_path, component.name, started)
        output.replace(target)  # atomic: a run never sees half a binary
    log.info("built %s %s in %.0f s -> %s", component.name, component.version, time.monotonic() - started, target)
    return target


def run_logged(
    command: Sequence[str], cwd: Path, env: dict[str, str], log_path: Path, name: str, started: float
) -> None:
    """Run a build step, its output to `log_path`, with a line now and then; BuildError with its last lines."""
    with log_path.open("ab") as out:
        out.write(f"$ {' '.join(command)}  (in {cwd})\n".encode())
        out.flush()
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        while True:
            try:
                code = process.wait(timeout=HEARTBEAT)
                break
            except subprocess.TimeoutExpired:
                log.info("still building %s (%.0f s so far)", name, time.monotonic() - started)
    if code != 0:
        tail = log_path.read_text(errors="replace").strip().splitlines()[-12:]
        raise BuildError(f"building {name} failed (exit {code}): " + " | ".join(tail) + f" (whole output: {log_path})")


def main(argv: Sequence[str] | None = None) -> int:
    """Build every component (or the ones named) into the cache, with progress on standard error."""
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    names = list(sys.argv[1:] if argv is None else argv)
    problem = go_problem(go_minimum())
    if problem:
        required = bool(os.environ.get(REQUIRED))
        print(f"{'error' if required else 'skipped'}: {problem}", file=sys.stderr)
        return 2 if required else 0  # without Go, the local target skips with this reason
    found = components()
    unknown = [n for n in names if n not in found]
    if unknown:
        print(f"unknown component {unknown[0]!r}; expected one of {', '.join(found)}", file=sys.stderr)
        return 2
    try:
        for name in names or found:
            print(binary(found[name]))
    except BuildError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
