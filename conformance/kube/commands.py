"""Running argv lists, and the checks that tell why a Kubernetes target cannot run here.

The checks only look (PATH, `docker info`, one API call with a short timeout); they never start anything.
"""

from __future__ import annotations

import logging
import shlex
import shutil
import subprocess
from collections.abc import Callable, Sequence

log = logging.getLogger(__name__)

#: Runs one argv and returns its standard output; raises CommandError when it fails.
Runner = Callable[[Sequence[str]], str]


class CommandError(RuntimeError):
    """A kubectl / helm / kind command failed; the message names the command and the end of its stderr."""


def run_command(argv: Sequence[str], *, timeout: float = 900.0) -> str:
    log.info("running %s", shlex.join(argv))
    try:
        completed = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise CommandError(f"`{shlex.join(argv)}` did not finish within {timeout:.0f} s") from None
    except OSError as error:
        raise CommandError(f"`{shlex.join(argv)}` could not run: {error.strerror or error}") from None
    if completed.returncode != 0:
        tail = "\n".join(completed.stderr.strip().splitlines()[-5:])
        raise CommandError(f"`{shlex.join(argv)}` failed with exit code {completed.returncode}: {tail}")
    return completed.stdout


def tool_path(name: str, which: Callable[[str], str | None] = shutil.which) -> str:
    found = which(name)
    if found is None:
        raise FileNotFoundError(f"{name} not found on PATH")
    return found


def docker_problem(
    which: Callable[[str], str | None] = shutil.which,
    run: Callable[..., subprocess.CompletedProcess[str]] = subprocess.run,
) -> str | None:
    """Why kind cannot start nodes here, or None. `docker --version` only proves the CLI is installed, so
    this asks the engine itself (`docker info`)."""
    docker = which("docker")
    if docker is None:
        return "Docker is not installed (no `docker` on PATH), and kind runs its nodes as Docker containers"
    try:
        result = run(
            [docker, "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return "the Docker engine did not answer `docker info` within 20 s"
    except OSError as error:
        return f"`docker info` could not run ({error.strerror or error})"
    if result.returncode != 0:
        lines = [line.strip() for line in (result.stderr or result.stdout or "").splitlines() if line.strip()]
        detail = f": {lines[-1]}" if lines else ""
        return f"the Docker engine is not running (`docker info` exited with {result.returncode}{detail})"
    return None


def cluster_problem(kubeconfig: str | None, context: str | None, timeout: float = 5.0) -> str | None:
    """Why no cluster is reachable with this kubeconfig / context, or None (one /version call)."""
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    where = f"kubeconfig {kubeconfig}" if kubeconfig else "the default kubeconfig"
    if context:
        where += f", context {context}"
    configuration = client.Configuration()
    configuration.retries = False  # one quick answer, not urllib3's retries against a dead address
    try:
        api_client = config.new_client_from_config(
            config_file=kubeconfig, context=context, persist_config=False, client_configuration=configuration
        )
    except (ConfigException, OSError, ValueError, TypeError) as error:
        return f"no Kubernetes cluster is configured ({where}: {str(error).strip() or type(error).__name__})"
    host = api_client.configuration.host
    try:
        client.VersionApi(api_client).get_code(_request_timeout=timeout)
    except Exception as error:  # any transport or HTTP failure means "not reachable" here
        summary = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return f"the Kubernetes API server at {host} ({where}) is not reachable: {summary[:200]}"
    finally:
        api_client.close()
    return None
