"""Request-time API key decisions: pure functions from (policy, request parts) to allow or deny."""

from reference_impl.auth.decision import Allow, Decision, Deny, RequestParts
from reference_impl.auth.keys import KeyIndex, digest

__all__ = ["Allow", "Decision", "Deny", "KeyIndex", "RequestParts", "digest"]
