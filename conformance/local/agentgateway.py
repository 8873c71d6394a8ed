"""agentgateway's part of the local control plane: its CRDs as released, its controller out of cluster, and what that
controller serves a Gateway's proxies over xDS (agentgateway's Rust data plane cannot be built here, so this
project's xdsdump reads it the way a proxy would).

Building (conformance/local/build.py calls `generate_api` on its copy of the wrapper module): agentgateway's go.mod
replaces github.com/agentgateway/agentgateway/api with ./api, a nested module the Go module proxy does not serve at
v1.4.1's commit. It is generated code only, so it is generated here as the root Makefile's gen step does: `buf
generate` over the .proto files inside the served github.com/agentgateway/agentgateway module, with upstream's
buf.yaml and buf.gen.yaml and the generators apigen/go.mod pins (the result matches upstream's committed api/*.go
byte for byte). The generators are built once per apigen go.mod/go.sum and kept in the per-user cache.

What each controller setting is for (read in v1.4.1's controller/api/settings/settings.go and pkg/setup/setup.go;
clusters/versions.yaml names the files):
- AGW_XDS_AUTH=false: the controller would otherwise check every proxy's service-account token with a TokenReview;
  without it, the Gateway a proxy serves is read from its node metadata `role` ("<namespace>~<gateway>");
- AGW_DISABLE_LEADER_ELECTION=true: one controller, and no Lease to take;
- AGW_LISTENER_BIND_IPV6=false: listeners on 0.0.0.0, not [::];
- POD_NAMESPACE: the controller's own namespace (leader election, JWKS store, xDS TLS secret), which must exist.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from conformance.local.build import BuildError, cache_dir, run_logged
from conformance.local.controlplane import ControllerProcess
from conformance.local.kgateway import module_dir

log = logging.getLogger("conformance.local")

AGENTGATEWAY_MODULE = "github.com/agentgateway/agentgateway"
API_MODULE = "github.com/agentgateway/agentgateway/api"
CONTROLLER_NAMESPACE = "agentgateway-system"
GATEWAY_CLASS = "agentgateway"  # the GatewayClass the controller creates and accepts itself
XDS_PORT = 9978

# The code generators (apigen/go.mod pins the versions agentgateway v1.4.1's tools/go.mod uses), and what the root
# Makefile's gen step generates: the Go code of these two files (their imports come along as Go packages).
GENERATORS = (
    "github.com/bufbuild/buf/cmd/buf",
    "google.golang.org/grpc/cmd/protoc-gen-go-grpc",
    "google.golang.org/protobuf/cmd/protoc-gen-go",
    "istio.io/tools/cmd/protoc-gen-golang-jsonshim",
)
PROTO_DIR = "crates/protos/proto"
PROTOS = (f"{PROTO_DIR}/resource.proto", f"{PROTO_DIR}/ext_mcp.proto")
# api/go.mod as upstream commits it at v1.4.1 (the wrapper's go.mod decides the versions a build uses).
API_GO_MOD = f"""module {API_MODULE}

go 1.24.0

require (
\tgithub.com/golang/protobuf v1.5.4
\tgoogle.golang.org/protobuf v1.36.11
)
"""


def crd_files(module_folder: Path) -> Iterator[Path]:
    """The agentgateway-crds chart's templates of the release the wrapper module requires."""
    root, _ = module_dir(module_folder, AGENTGATEWAY_MODULE)
    templates = root / "controller" / "install" / "helm" / "agentgateway-crds" / "templates"
    yield from sorted(p for p in templates.glob("*.yaml") if "{{" not in p.read_text(encoding="utf-8"))


# -- building -----------------------------------------------------------------------------------------------------
def generators_key(apigen: Path) -> str:
    """The generators' cache key: apigen's go.mod and go.sum decide every one of them."""
    digest = hashlib.sha256()
    for name in ("go.mod", "go.sum"):
        digest.update(name.encode() + b"\0" + (apigen / name).read_bytes())
    return digest.hexdigest()[:12]


def generators(apigen: Path, env: dict[str, str], *, cache: Path | None = None, go: str = "go") -> Path:
    """The folder holding buf and the three protoc plugins: from the cache, or built now. Their build log (and the
    log of each generate run) is kept beside it."""
    entry = (cache or cache_dir()) / "agentgateway-apigen" / generators_key(apigen)
    folder = entry / "bin"
    if _complete(folder):
        return folder
    entry.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    log.info("building agentgateway's API generators (buf and three protoc plugins; the first time only, ~4 minutes)")
    # Built beside the cache entry and moved into place whole: a run never sees half the tools.
    with tempfile.TemporaryDirectory(prefix="bin-", dir=entry) as scratch:
        output = Path(scratch) / "bin"
        output.mkdir()
        command = [go, "build", "-mod=readonly", "-trimpath", "-ldflags", "-s -w", "-o", f"{output}/", *GENERATORS]
        run_logged(command, apigen, env, entry / "build.log", "agentgateway's API generators", started)
        shutil.rmtree(folder, ignore_errors=True)  # an incomplete set
        try:
            output.replace(folder)
        except OSError:
            if not _complete(folder):  # else another build placed the same tools meanwhile
                raise
    log.info("built agentgateway's API generators in %.0f s -> %s", time.monotonic() - started, folder)
    return folder


def _complete(folder: Path) -> bool:
    return all(os.access(folder / package.rsplit("/", 1)[1], os.X_OK) for package in GENERATORS)


def generate_api(module_copy: Path, env: dict[str, str]) -> None:
    """Write ./api (module github.com/agentgateway/agentgateway/api) into a copy of the wrapper module: the build's
    generate hook. Never into the repository: the copy is thrown away after the build."""
    tools = generators(module_copy / "apigen", env)
    try:
        source, version = module_dir(module_copy, AGENTGATEWAY_MODULE)
    except RuntimeError as error:
        raise BuildError(f"generating agentgateway's API module failed: {error}") from None
    started = time.monotonic()
    log.info("generating %s from the .proto files of %s %s", API_MODULE, AGENTGATEWAY_MODULE, version)
    with tempfile.TemporaryDirectory(prefix="agentgateway-api-") as scratch:
        work = Path(scratch)
        for name in ("buf.yaml", "buf.gen.yaml"):
            shutil.copyfile(source / name, work / name)
        shutil.copytree(source / PROTO_DIR, work / PROTO_DIR, copy_function=shutil.copyfile)
        for path in (work / PROTO_DIR, *(work / PROTO_DIR).rglob("*")):  # the module cache's are read-only
            path.chmod(path.stat().st_mode | 0o200)
        arguments = [argument for proto in PROTOS for argument in ("--path", proto)]
        generate_env = {**env, "PATH": f"{tools}{os.pathsep}{env.get('PATH', '')}"}  # buf finds its plugins there
        log_path = tools.parent / "generate.log"
        command = [str(tools / "buf"), "generate", *arguments]
        run_logged(command, work, generate_env, log_path, "agentgateway's API module (buf generate)", started)
        generated = sorted((work / "api").glob("*.go"))
        if not generated:
            raise BuildError(f"generating agentgateway's API module failed: buf wrote no Go files (log: {log_path})")
        target = module_copy / "api"
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir()
        for path in generated:
            shutil.copyfile(path, target / path.name)
        (target / "go.mod").write_text(API_GO_MOD, encoding="utf-8")
    log.info("generated %s (%d files) in %.1f s", API_MODULE, len(generated), time.monotonic() - started)


# -- the controller ------------------------------------------------------------------------------------------------
@dataclass
class Controller(ControllerProcess):
    """The agentgateway controller process (no data plane: its xDS is read with `read_xds`); its namespace
    CONTROLLER_NAMESPACE must exist."""

    name: ClassVar[str] = "agentgateway"
    xds_port: int = XDS_PORT

    def settings(self) -> dict[str, str]:
        return {
            "AGW_XDS_AUTH": "false",
            "AGW_DISABLE_LEADER_ELECTION": "true",
            "AGW_LISTENER_BIND_IPV6": "false",
            "AGW_AGENTGATEWAY_XDS_SERVICE_PORT": str(self.xds_port),
            "AGW_LOG_LEVEL": self.log_level,
            "POD_NAMESPACE": CONTROLLER_NAMESPACE,
        }


# -- what it serves a Gateway's proxies ------------------------------------------------------------------------------
def read_xds(
    xdsdump: Path, namespace: str, gateway: str, port: int = XDS_PORT, timeout: float = 30.0, quiet: float = 0.5
) -> dict[str, Any]:
    """What the controller serves the proxies of Gateway `namespace`/`gateway` now: {"resources": {name: Resource},
    "addresses": {name: Address}} as protojson. It holds API keys: never log it or put it in a message."""
    command = [
        str(xdsdump),
        f"-addr=127.0.0.1:{port}",
        f"-namespace={namespace}",
        f"-gateway={gateway}",
        f"-quiet={quiet * 1000:.0f}ms",
        f"-timeout={timeout * 1000:.0f}ms",
    ]
    what = f"reading the xDS of Gateway {namespace}/{gateway} from 127.0.0.1:{port}"
    try:
        completed = subprocess.run(command, capture_output=True, timeout=timeout + 15, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise RuntimeError(f"{what} failed: {error}") from None  # neither message holds the output
    if completed.returncode != 0:
        # stderr is the tool's own words (it never prints a resource there); stdout is never shown
        reason = completed.stderr.decode(errors="replace").strip()[-600:]
        raise RuntimeError(f"{what} failed (exit {completed.returncode}): {reason}")
    try:
        dump = json.loads(completed.stdout)
    except ValueError:
        raise RuntimeError(f"{what}: the output is not JSON ({len(completed.stdout)} bytes)") from None
    if not (
        isinstance(dump, dict) and isinstance(dump.get("resources"), dict) and isinstance(dump.get("addresses"), dict)
    ):
        raise RuntimeError(f"{what}: the output is not a resources and addresses document")
    return dump


def policies(dump: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The `policy` resources of an xDS dump, by resource name (their `policy` field)."""
    return {
        name: resource["policy"]
        for name, resource in (dump.get("resources") or {}).items()
        if isinstance(resource, dict) and isinstance(resource.get("policy"), dict)
    }
