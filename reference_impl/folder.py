"""A folder of manifests as the source of truth: load it, and reload on change keeping the last good files.

Nothing that goes wrong here stops the watcher or opens a route: a file that cannot be read or parsed keeps its
last good version (or, new, is not loaded at all), the reload runs off the serving event loop, and a watcher
that fails restarts itself while /ready reports it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import logging
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from reference_impl.errors import ManifestError
from reference_impl.health import Health
from reference_impl.resources import Resource, read_manifest_file
from reference_impl.store import Store

log = logging.getLogger("reference_impl.folder")
SUFFIXES = (".yaml", ".yml", ".json")
# How long watchfiles waits for more changes before yielding a batch (ms), and its polling step.
DEBOUNCE_MS, STEP_MS = 50, 10
RETRY_SECONDS = (0.5, 1.0, 2.0, 5.0, 10.0)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Reading a large manifest allocates hundreds of thousands of short-lived objects and no reference cycles. Left
    on, the cyclic garbage collector runs full collections of the whole heap meanwhile, each holding the GIL for tens
    of milliseconds while requests wait; reference counting frees all of it anyway. Afterwards the surviving objects
    (the new snapshot) move out of the collector's way (gc.freeze), so later collections do not scan them either."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def manifest_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in SUFFIXES and not p.name.startswith("."))


def read_problem(
    path: Path, data: bytes | None = None, release: Mapping[str, str] | None = None
) -> tuple[list[Resource] | None, str | None]:
    """(resources, None) or (None, why the file cannot be used), admitted with the CRDs of `release` (default: the
    newest vendored). Never raises."""
    try:
        return read_manifest_file(path, data, release=release), None
    except ManifestError as error:
        return None, str(error)
    except OSError as error:
        return None, f"{path}: cannot read: {error.strerror or error}"
    except Exception as error:  # a parser bug must not stop the watcher; the type says enough to report it
        log.exception("internal error reading %s", path)
        return None, f"{path}: internal error while reading ({type(error).__name__})"


class ManifestFolder:
    """Keeps `store` equal to the folder's content. A file that stops parsing keeps its last good resources,
    so a typo while editing a Secret never takes a route down; the error names the file and the field."""

    def __init__(
        self,
        folder: Path,
        store: Store,
        on_sync: Callable[[], None] | None = None,
        release: Mapping[str, str] | None = None,
    ) -> None:
        if not folder.is_dir():
            raise FileNotFoundError(f"manifest folder {folder} does not exist or is not a directory")
        self.folder = folder
        self.store = store
        self.release = release  # the CRDs files are admitted with (default: the newest vendored)
        self.on_sync = on_sync  # called after every pass, e.g. to log what health() now says
        self._last_good: dict[Path, list[Resource]] = {}
        # path -> (content digest, what reading it gave): unchanged files are not parsed again. The content, not
        # the mtime, decides: two same-size writes within one clock tick share an mtime.
        self._read_cache: dict[Path, tuple[bytes, list[Resource] | None, str | None]] = {}
        self.errors: dict[Path, str] = {}  # rejected file -> why
        self.loaded = False  # True once a sync has read the folder
        self.watch_problem: str | None = None
        self.list_problem: str | None = None

    # -- one pass over the folder -------------------------------------------------------------------------
    def sync(self) -> bool:
        """Load every file and make the store hold their resources. True if the store changed. Never raises."""
        try:
            with collector_paused():
                return self._sync()
        finally:
            if self.on_sync is not None:
                self.on_sync()

    def _sync(self) -> bool:
        try:
            paths = manifest_files(self.folder)
        except OSError as error:
            self.list_problem = f"cannot list {self.folder}: {error.strerror or error}; serving its last good content"
            return False
        self.list_problem = None
        current: dict[Path, list[Resource]] = {}
        for path in paths:
            resources, problem = self._read(path)
            if problem is None:
                assert resources is not None
                current[path] = resources
                if self.errors.pop(path, None) is not None:
                    log.info("%s: valid again", path)
                continue
            kept = self._last_good.get(path)
            self.errors[path] = problem
            if kept is not None:
                current[path] = kept
        for gone in set(self.errors) - set(paths):
            del self.errors[gone]
        for gone in set(self._read_cache) - set(paths):
            del self._read_cache[gone]
        changed = current != self._last_good or not self.loaded
        self._last_good = current
        self.loaded = True
        if changed:
            self.store.replace_all(r for resources in current.values() for r in resources)
        return changed

    def _read(self, path: Path) -> tuple[list[Resource] | None, str | None]:
        try:
            data = path.read_bytes()
        except OSError as error:
            return None, f"{path}: cannot read: {error.strerror or error}"
        signature = hashlib.blake2b(data, digest_size=16).digest()
        cached = self._read_cache.get(path)
        if cached is not None and cached[0] == signature:
            return cached[1], cached[2]
        resources, problem = read_problem(path, data, self.release)
        self._read_cache[path] = (signature, resources, problem)
        return resources, problem

    async def reload(self) -> bool:
        """`sync` in a worker thread: parsing and compiling never block requests; the store swaps atomically."""
        return await asyncio.to_thread(self.sync)

    # -- watching -----------------------------------------------------------------------------------------
    async def watch(self, stop: asyncio.Event) -> None:
        """Re-sync on every change under the folder until `stop` is set. A failing watcher restarts itself."""
        from watchfiles import awatch  # imported here: only the CLI watches

        attempt = 0
        while not stop.is_set():
            try:
                async for _ in awatch(self.folder, stop_event=stop, debounce=DEBOUNCE_MS, step=STEP_MS):
                    if await self.reload():
                        log.info("manifests reloaded: generation %d", self.store.snapshot.generation)
                    attempt, self.watch_problem = 0, None
                if stop.is_set():
                    return
                raise RuntimeError("the file watcher stopped on its own")
            except Exception as error:
                delay = RETRY_SECONDS[min(attempt, len(RETRY_SECONDS) - 1)]
                attempt += 1
                self.watch_problem = (
                    f"watching {self.folder} failed ({type(error).__name__}: {error}); retrying in {delay:g}s"
                )
                log.error(self.watch_problem)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                await self.reload()  # catch up with changes made while nothing watched

    def health(self) -> Health:
        """Rejected files are degraded (each keeps its last good version, or is not loaded at all); a watcher
        that failed, or a folder that cannot be listed, is fatal: Secret changes would go unseen."""
        degraded = tuple(
            f"rejected {problem} ({'serving its last good version' if path in self._last_good else 'not loaded'})"
            for path, problem in sorted(self.errors.items())
        )
        fatal = tuple(p for p in (self.watch_problem, self.list_problem) if p)
        return Health(fatal=fatal, degraded=degraded)
