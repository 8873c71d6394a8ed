"""`apikey-gateway`: serve a folder of manifests, run the embedded httpbin, generate keys, validate files."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from reference_impl import keygen
from reference_impl.compile.snapshot import BackendMap
from reference_impl.errors import ManifestError
from reference_impl.folder import ManifestFolder, manifest_files
from reference_impl.gateway.server import GatewayServer
from reference_impl.resources import load_manifests
from reference_impl.store import Store
from reference_impl.upstream import HttpbinServer

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


def _labels(values: Sequence[str]) -> dict[str, str]:
    labels = {}
    for value in values:
        key, sep, val = value.partition("=")
        if not sep or not key:
            raise SystemExit(f"--label {value!r}: expected KEY=VALUE")
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
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])

    httpbin = sub.add_parser("httpbin", help="run the embedded httpbin upstream alone")
    httpbin.add_argument("--host", default="127.0.0.1")
    httpbin.add_argument("--port", type=int, default=8000)

    keys = sub.add_parser("keygen", help="generate strong random keys and the Secret (or ConfigMap) carrying them")
    keys.add_argument("clients", nargs="+", help="client ids; each becomes one Secret entry")
    keys.add_argument("--name", default="apikey", help="Secret name (default apikey)")
    keys.add_argument("--namespace", default="default")
    keys.add_argument("--label", action="append", default=[], metavar="KEY=VALUE")
    keys.add_argument("--bytes", type=int, default=32, help="entropy per key in bytes (default 32)")
    keys.add_argument(
        "--hashed-configmap",
        action="store_true",
        help="also emit an agentgateway ConfigMap holding only keyHash values",
    )
    keys.add_argument("--output", type=Path, help="write the manifests here instead of standard output")

    validate = sub.add_parser("validate", help="validate manifest files as the API server would")
    validate.add_argument("paths", nargs="+", type=Path)
    return parser


def _configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger("reference_impl")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False


async def _serve(args: argparse.Namespace) -> int:
    httpbin: HttpbinServer | None = None
    services = {}
    try:
        if args.httpbin:
            httpbin = HttpbinServer(port=args.httpbin_port)
            services["httpbin"] = httpbin.start()
            log.info("embedded httpbin on %s", httpbin.url)
        services.update(BackendMap.parse(args.backend).services)
        store = Store(BackendMap(services))
        folder = ManifestFolder(args.folder, store)
        folder.sync()
        if not store.list():
            log.warning("no valid manifests in %s yet; watching for files", args.folder)
        listeners = dict(args.listen) or {
            listener.port: listener.port for gateway in store.list("Gateway") for listener in gateway.spec.listeners
        }
        if not listeners:
            log.error("nothing to listen on: no Gateway listener in %s and no --listen given", args.folder)
            return 2
        server = GatewayServer(store, host=args.host)
        await server.start(listeners, None if args.admin_port < 0 else args.admin_port)
        for listener_port, local_port in sorted(server.ports.items()):
            log.info("listener port %d on http://%s:%d", listener_port, args.host, local_port)
        if server.admin_url:
            log.info("admin on %s (/status /stats /config /ready)", server.admin_url)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        watcher = None if args.no_watch else asyncio.create_task(folder.watch(stop))
        await stop.wait()
        if watcher:
            await watcher
        await server.stop()
        return 0
    finally:
        if httpbin:
            httpbin.stop()


def _keygen(args: argparse.Namespace) -> int:
    keys = keygen.issue_keys(args.clients, args.bytes)
    labels = _labels(args.label)
    manifests = [keygen.secret_manifest(args.name, args.namespace, keys, labels=labels)]
    if args.hashed_configmap:
        manifests.append(keygen.hashed_config_map(args.name, args.namespace, keys, labels=labels))
    text = keygen.to_yaml(*manifests)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
        args.output.chmod(0o600)
        print(f"wrote {len(keys)} key(s) for {', '.join(args.clients)} to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _validate(args: argparse.Namespace) -> int:
    failed = 0
    paths = [p for path in args.paths for p in (manifest_files(path) if path.is_dir() else [path])]
    for path in paths:
        try:
            resources = load_manifests(path.read_text(encoding="utf-8"), source=str(path))
            print(f"{path}: {len(resources)} valid resource(s)")
        except ManifestError as error:
            failed += 1
            print(f"{path}: {error}", file=sys.stderr)
        except OSError as error:
            failed += 1
            print(f"{path}: cannot read: {error.strerror}", file=sys.stderr)
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
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
