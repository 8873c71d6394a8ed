"""Resources in, one immutable snapshot out: route table, effective auth per rule, policy status."""

from reference_impl.compile.snapshot import Snapshot, compile_snapshot

__all__ = ["Snapshot", "compile_snapshot"]
