"""`apikey-gateway`: serve a folder of manifests, run the embedded httpbin, generate keys, validate files."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

from reference_impl import keygen
from reference_impl.admission import PINNED, RELEASES, parse_release
from reference_impl.admission.meta import dns1123_label_errors
from reference_impl.compile.snapshot import BackendMap
from reference_impl.errors import ManifestError
from reference_impl.folder import SUFFIXES, ManifestFolder, manifest_files, read_problem
from reference_impl.gateway.admin import health_of
from reference_impl.gateway.observe import AccessLog, Counters
from reference_impl.gateway.server import GatewayServer, PortInUse, bind
from reference_impl.health import HealthLog, snapshot_health
from reference_impl.resources import parse_manifest
from reference_impl.store import Store
from reference_impl.upstream import HttpbinServer
from reference_impl.workers import Supervisor, parse_socket_arg, report_counters, worker_command

log = logging.getLogger("reference_impl")


def _listen(value: str) -> tuple[int, int]:
    """LOCAL[:LISTENER] -> (listener port, local port); "8080:80" serves Gateway listener port 80 on 8080."""
    local, _, listener = value.partition(":")
    try:
        local_port, listener_port = int(local), int(listener or local)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--listen {value!r}: expected PORT or LOCAL_PORT:LISTENER_PORT") from None
    if not (0 <= local_port <= 65535 and 1 <= listener_port <= 65535):
        raise argparse.ArgumentTypeError(f"--listen {value!r}: ports must be between 1 and 65535")
    return listener_port, local_port


def _release(value: str) -> dict[str, str]:
    """Every project's release: the ones named, the pinned ones (clusters/versions.yaml) for the others."""
    try:
        return parse_release(value, base=PINNED)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


RELEASE_HELP = (
    "the API server's CRDs: PROJECT=RELEASE[,...] (vendored: "
    + "; ".join(f"{project} {', '.join(names)}" for project, names in RELEASES.items())
    + "), or `newest` for the newest development API; default: what clusters/versions.yaml installs ("
    + ", ".join(f"{project} {name}" for project, name in PINNED.items())
    + ")"
)


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r}: expected a whole number of at least 1")
    return number


def _labels(values: Sequence[str]) -> dict[str, str]:
    labels = {}
    for value in values:
        key, sep, val = value.partition("=")
        if not sep or not key:
            raise ValueError(f"--label {value!r}: expected KEY=VALUE")
        labels[key] = val
    return labels


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="apikey-gateway", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve a folder of manifests, reloading it when files change")
    serve.add_argument("folder", type=Path, help="folder of YAML manifests (Secrets, Gateways, routes, policies)")
    serve.add_argument(
        "--listen",
        action="append",
        type=_listen,
        default=[],
        metavar="PORT[:LISTENER_PORT]",
        help="local port to serve a Gateway listener port on (repeatable; default: every listener "
        "port of the manifests, on the same local port)",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument(
        "--backend",
        action="append",
        default=[],
        metavar="SERVICE=URL",
        help="map a Service to an upstream URL, e.g. httpbin.default=http://127.0.0.1:8000",
    )
    serve.add_argument(
        "--httpbin",
        action="store_true",
        help="start the embedded httpbin and map Service 'httpbin' (any namespace) to it",
    )
    serve.add_argument("--httpbin-port", type=int, default=0, help="port for the embedded httpbin (default: free)")
    serve.add_argument("--admin-port", type=int, default=9901, help="admin endpoint port (default 9901; -1 = off)")
    serve.add_argument("--no-watch", action="store_true", help="load the folder once; do not watch it")
    serve.add_argument(
        "--release", type=_release, default=dict(PINNED), metavar="PROJECT=RELEASE[,...]", help=RELEASE_HELP
    )
    serve.add_argument(
        "--allow-rejected",
        action="store_true",
        help="start even if some files are rejected at start-up, serving the valid rest (the rejected files' "
        "resources are then not served at all; /ready reports them). Default: refuse to start",
    )
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    serve.add_argument(
        "--workers",
        type=_positive,
        default=1,
        help="gateway processes sharing the listeners, one core each (default 1); the admin endpoint sums their "
        "counters",
    )
    # A worker's own arguments, given by its supervising process.
    serve.add_argument("--worker-sockets", help=argparse.SUPPRESS)
    serve.add_argument("--worker-stats-fd", type=int, help=argparse.SUPPRESS)

    httpbin = sub.add_parser("httpbin", help="run the embedded httpbin upstream alone")
    httpbin.add_argument("--host", default="127.0.0.1")
    httpbin.add_argument("--port", type=int, default=8000)

    keys = sub.add_parser("keygen", help="generate strong random keys and the Secret (or ConfigMap) carrying them")
    keys.add_argument("clients", nargs="+", help="client ids; each becomes one Secret entry")
    keys.add_argument("--name", default="apikey", help="Secret name (default apikey)")
    keys.add_argument("--namespace", default="default")
    keys.add_argument("--label", action="append", default=[], metavar="KEY=VALUE")
    keys.add_argument("--bytes", type=int, default=32, help="entropy per key in bytes (default 32, at least 16)")
    keys.add_argument("--force", action="store_true", help="overwrite --output if it exists")
    keys.add_argument(
        "--hashed-configmap",
        action="store_true",
        help="also emit an agentgateway ConfigMap holding only keyHash values",
    )
    keys.add_argument(
        "--output",
        type=Path,
        help="write the manifests to this file (mode 0600) and print only the keys; default: print the manifests, "
        "the keys listed once in a comment above them",
    )

    validate = sub.add_parser(
        "validate",
        help="validate manifest files as the API server would (the vendored CRDs of each release), then report "
        "what the controllers would say about them together",
    )
    validate.add_argument("paths", nargs="+", type=Path, help="files or folders (folders are searched recursively)")
    validate.add_argument(
        "--release", type=_release, default=dict(PINNED), metavar="PROJECT=RELEASE[,...]", help=RELEASE_HELP
    )
    validate.add_argument(
        "--strict",
        action="store_true",
        help="also fail when the files together would leave a policy not accepted or a route with problems",
    )
    return parser


def _configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger("reference_impl")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False


def _rejected_at_start(folder: ManifestFolder) -> bool:
    for path, problem in sorted(folder.errors.items()):
        log.error("rejected %s", problem if str(path) in problem else f"{path}: {problem}")
    return bool(folder.errors)


async def _serve(args: argparse.Namespace) -> int:
    # A reload parses and compiles in a worker thread; a short switch interval lets the serving loop take the GIL
    # back within a millisecond instead of five, so requests barely notice a large rotation.
    sys.setswitchinterval(0.001)
    httpbin: HttpbinServer | None = None
    services = {}
    try:
        services.update(BackendMap.parse(args.backend).services)
        store = Store(BackendMap(services))  # backends completed below, once httpbin has a port
        health_log = HealthLog(log)
        sources: list = []
        folder = ManifestFolder(
            args.folder, store, on_sync=lambda: health_log.update(health_of(store, sources)), release=args.release
        )
        sources.append(folder.health)
        if args.httpbin:
            httpbin = HttpbinServer(port=args.httpbin_port)
            store.backends = BackendMap({"httpbin": httpbin.start(), **services})
            log.info("embedded httpbin on %s", httpbin.url)
        folder.sync()
        if folder.errors and not args.allow_rejected:
            _rejected_at_start(folder)
            log.error(
                "not serving: %d file(s) in %s rejected (see above). Fix them, or pass --allow-rejected to serve the "
                "valid rest without them",
                len(folder.errors),
                args.folder,
            )
            return 2
        if args.worker_sockets:
            return await _run(args, store, folder, sources, parse_socket_arg(args.worker_sockets))
        listeners = dict(args.listen) or {
            listener.port: listener.port for gateway in store.list("Gateway") for listener in gateway.spec.listeners
        }
        if not listeners:
            log.error(
                "nothing to serve: %s holds no Gateway with a listener; add one, or pass --listen PORT to serve "
                "a listener port before its Gateway exists",
                args.folder,
            )
            return 2
        if not store.list():
            log.warning("%s holds no manifests yet: every request gets 404 until it does", args.folder)
        try:
            sockets = {port: bind(args.host, local) for port, local in listeners.items()}
        except PortInUse as error:
            log.error("%s", error)
            return 2
        for listener_port, sock in sorted(sockets.items()):
            log.info("listener port %d on http://%s:%d", listener_port, args.host, sock.getsockname()[1])
        extra = ["--backend", f"httpbin={httpbin.url}"] if httpbin else []
        return await _run(args, store, folder, sources, sockets, worker_command(args.argv, extra))
    finally:
        if httpbin:
            httpbin.stop()


async def _run(
    args: argparse.Namespace,
    store: Store,
    folder: ManifestFolder,
    sources: list,
    sockets: dict[int, socket.socket],
    worker_argv: list[str] | None = None,
) -> int:
    """Serve until SIGINT/SIGTERM: the listeners here (one process), or through workers (--workers N > 1)."""
    supervisor = None
    if worker_argv is not None and args.workers > 1:
        supervisor = Supervisor(worker_argv, sockets, args.workers, Counters())
        sources.append(supervisor.health)
    # At the default level the access log is written in batches, a few times a second, not a write per request.
    access_log = AccessLog(sys.stderr) if log.isEnabledFor(logging.INFO) else AccessLog()
    server = GatewayServer(store, host=args.host, health=sources, access_log=access_log)
    if supervisor is not None:
        server.counters = server.admin.counters = supervisor.counters
    try:
        await server.start({}, None if args.admin_port < 0 or args.worker_sockets else args.admin_port)
    except PortInUse as error:
        log.error("%s", error)
        return 2
    if supervisor is None:
        for listener_port, sock in sockets.items():
            await server.serve_socket(listener_port, sock)
    else:
        await supervisor.start()
    if server.admin_url:
        log.info("admin on %s (/ready /status /stats /config)", server.admin_url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    received: list[str] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda sig=sig: (received.append(sig.name), stop.set()))
    tasks = [asyncio.create_task(_flush_every(access_log, 0.2, stop))]
    if not args.no_watch:
        tasks.append(asyncio.create_task(folder.watch(stop)))
    if supervisor is not None:
        tasks.append(asyncio.create_task(supervisor.watch(stop)))
    if args.worker_stats_fd is not None:
        tasks.append(asyncio.create_task(report_counters(server.counters, args.worker_stats_fd, stop)))
    await stop.wait()
    if not args.worker_sockets:
        log.info("stopping (%s)", received[0] if received else "stop requested")
    if supervisor is not None:
        await supervisor.stop()
    await asyncio.gather(*tasks)
    await server.stop()
    access_log.flush()
    return 0


async def _flush_every(access_log: AccessLog, seconds: float, stop: asyncio.Event) -> None:
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)
        access_log.flush()


def _keygen(args: argparse.Namespace) -> int:
    try:
        # The API server would only say the namespace is not found; say why no such namespace can exist.
        for problem in dns1123_label_errors(args.namespace):
            raise ValueError(f"--namespace {args.namespace!r}: {problem}")
        keys = keygen.issue_keys(args.clients, args.bytes)
        labels = _labels(args.label)
        manifests = [keygen.secret_manifest(args.name, args.namespace, keys, labels=labels)]
        if args.hashed_configmap:
            manifests.append(keygen.hashed_config_map(args.name, args.namespace, keys, labels=labels))
        for manifest in manifests:
            parse_manifest(manifest)  # what the API server would refuse is refused here
    except (ValueError, ManifestError) as error:  # ManifestError never quotes a key value
        print(f"apikey-gateway keygen: {error}", file=sys.stderr)
        return 2
    text = keygen.to_yaml(*manifests)
    listing = keygen.key_listing(keys)
    if args.output:
        if args.output.exists() and not args.force:
            print(f"apikey-gateway keygen: {args.output} exists; pass --force to overwrite it", file=sys.stderr)
            return 2
        args.output.touch(mode=0o600)
        args.output.chmod(0o600)  # before any key is written
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote the Secret for {', '.join(args.clients)} to {args.output}", file=sys.stderr)
        sys.stdout.write(listing)
    else:
        sys.stdout.write("".join(f"# {line}\n" if line else "#\n" for line in listing.splitlines()) + text)
    return 0


def _validate(args: argparse.Namespace) -> int:
    failed, valid, resources = 0, 0, []
    paths: list[Path] = []
    for path in args.paths:
        if path.is_dir():
            found = manifest_files(path)
            if not found:
                print(f"{path}: no manifest files ({', '.join(SUFFIXES)}) in this folder", file=sys.stderr)
                failed += 1
            paths.extend(found)
        else:
            paths.append(path)
    for path in paths:
        if not path.exists():
            print(f"{path}: no such file", file=sys.stderr)
            failed += 1
            continue
        loaded, problem = read_problem(path, release=args.release)
        if problem is not None:
            failed += 1
            print(problem, file=sys.stderr)
            continue
        assert loaded is not None
        valid += 1
        resources.extend(loaded)
        print(f"{path}: {len(loaded)} valid resource(s)")
    if not paths and not failed:
        print("no manifest files given", file=sys.stderr)
        failed += 1
    releases = ", ".join(f"{project} {name}" for project, name in args.release.items())
    print(f"admission: as the API server with the CRDs of {releases}")
    problems = controller_problems(resources) if resources else []
    for line in problems:
        print(f"{'error' if args.strict else 'note'}: {line}", file=sys.stderr)
    return 1 if failed or (args.strict and problems) else 0


def controller_problems(resources: list) -> list[str]:
    """What the controller would report for these resources applied together (not accepted, route problems)."""
    store = Store()
    try:
        store.apply(resources)
    except ValueError as error:
        return [f"cannot apply the files together: {error}"]
    return list(snapshot_health(store.snapshot).degraded)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # a supervisor starts its workers with the same
    if args.command == "serve":
        _configure_logging(args.log_level)
        try:
            import uvloop

            return uvloop.run(_serve(args))
        except (FileNotFoundError, ValueError) as error:
            print(f"apikey-gateway: {error}", file=sys.stderr)
            return 2
    if args.command == "httpbin":
        with HttpbinServer(args.host, args.port) as server:
            print(f"httpbin on {server.url} (Ctrl-C to stop)", file=sys.stderr)
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
            signal.sigwait({signal.SIGINT, signal.SIGTERM})
        return 0
    if args.command == "keygen":
        return _keygen(args)
    return _validate(args)


if __name__ == "__main__":
    sys.exit(main())
