"""Bootstrap and file-based dynamic resources. Envoy watches each file with inotify and reloads it on a
*move* into place, so every write goes to a temp file in the same directory followed by os.replace.

Versions are digests of the content, not a write counter. Envoy reads a file when it handles the move event,
so after two quick writes it may read the second content twice; and LDS, CDS and RDS keep their previous
`version_info` when an update changes nothing (`any_applied` in lds_api.cc / cds_api_helper.cc, the hash
check in RDS). Writing A, then B, then A again faster than Envoy reads would leave it on A with A's *old*
version forever. A version that is a function of the content is the same however Envoy got there.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.envoy.translate import EnvoyConfig

LDS_FILE = "lds.json"
CDS_FILE = "cds.json"


def bootstrap(xds_dir: Path, node_id: str = "apikey-conformance") -> dict[str, Any]:
    def source(name: str) -> dict[str, Any]:
        return {"path_config_source": {"path": str(xds_dir / name)}, "resource_api_version": "V3"}

    return {
        "node": {"id": node_id, "cluster": node_id},
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}}},
        "dynamic_resources": {"lds_config": source(LDS_FILE), "cds_config": source(CDS_FILE)},
    }


def rds_file(port: int) -> str:
    return f"rds-{port}.json"


def write_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write JSON so that Envoy (and any reader) sees the old file or the new one, never a partial one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:  # mkstemp files are 0600: keys stay private
            json.dump(data, handle, indent=1, sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass
class XdsFiles:
    """The xDS files in one directory. Only files whose resources changed are rewritten, so Envoy is never
    asked to re-apply an identical listener (which would drain connections)."""

    directory: Path
    written: dict[str, str] = field(default_factory=dict)  # file -> version (digest of its resources)

    def _put(self, name: str, resources: list[dict[str, Any]]) -> None:
        version = content_version(resources)
        if self.written.get(name) == version:
            return
        write_atomic(self.directory / name, {"version_info": version, "resources": resources})
        self.written[name] = version

    def write(self, config: EnvoyConfig) -> None:
        # Order matters: clusters and route tables exist before the listeners that reference them.
        self._put(CDS_FILE, config.clusters)
        for listener in config.listeners:
            name = listener["name"]
            port = int(name.rsplit("~", 1)[1])
            self._put(rds_file(port), [config.route_configs[name]])
        self._put(LDS_FILE, config.listeners)

    def version(self, name: str) -> str | None:
        return self.written.get(name)


def content_version(resources: list[dict[str, Any]]) -> str:
    """The same resources always get the same version (see the module docstring for why)."""
    canonical = json.dumps(resources, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]
