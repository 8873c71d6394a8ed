"""A folder of manifests as the source of truth: load it, and reload on change keeping the last good files."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from reference_impl.errors import ManifestError
from reference_impl.resources import Resource, load_manifests
from reference_impl.store import Store

log = logging.getLogger("reference_impl.folder")
SUFFIXES = (".yaml", ".yml", ".json")


def manifest_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in SUFFIXES and not p.name.startswith("."))


class ManifestFolder:
    """Keeps `store` equal to the folder's content. A file that stops parsing keeps its last good resources,
    so a typo while editing a Secret never takes a route down; the error names the file and the field."""

    def __init__(self, folder: Path, store: Store, on_error: Callable[[str], None] | None = None) -> None:
        if not folder.is_dir():
            raise FileNotFoundError(f"manifest folder {folder} does not exist or is not a directory")
        self.folder = folder
        self.store = store
        self.on_error = on_error or log.error
        self._last_good: dict[Path, list[Resource]] = {}
        self.errors: dict[Path, str] = {}

    def sync(self) -> None:
        current: dict[Path, list[Resource]] = {}
        for path in manifest_files(self.folder):
            try:
                current[path] = load_manifests(path.read_text(encoding="utf-8"), source=str(path))
                self.errors.pop(path, None)
            except (ManifestError, UnicodeDecodeError, OSError) as error:
                message = str(error)
                if self.errors.get(path) != message:
                    self.on_error(f"{message} (keeping the last good version of {path.name})")
                self.errors[path] = message
                if path in self._last_good:
                    current[path] = self._last_good[path]
        self._last_good = current
        self.store.replace_all(r for resources in current.values() for r in resources)

    async def watch(self, stop: asyncio.Event | None = None) -> None:
        """Re-sync on every change under the folder until `stop` is set."""
        from watchfiles import awatch  # imported here: only the CLI watches

        async for _ in awatch(self.folder, stop_event=stop, debounce=200, step=50):
            self.sync()
            log.info("manifests reloaded: generation %d", self.store.snapshot.generation)
