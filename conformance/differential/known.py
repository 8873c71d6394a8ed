"""Known divergences: differences between two real gateways that are understood, with their upstream reason.

A request whose every difference is explained by an entry here is listed under that entry, not failed. Each entry
explains exactly the differences its rule, computed from the two observations, reproduces (never "anything in the
query"), so a new difference in the same place still fails. Delete an entry once both sides agree: a run reports
the entries that matched nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from conformance.differential.model import Case, Difference, RequestOutcome


@dataclass(frozen=True)
class KnownDivergence:
    id: str
    title: str
    reason: str
    source: str
    status: str
    explains: Callable[[Case, RequestOutcome], list[Difference]]

    def as_dict(self) -> dict[str, str]:
        return {"id": self.id, "title": self.title, "reason": self.reason, "source": self.source, "status": self.status}


KNOWN: tuple[KnownDivergence, ...] = ()
"""Empty today: the divergences long runs found (Envoy's query rebuild, its joining of repeated inline headers,
its Cookie rebuild, a client id header removed with the credential) were the reference gateway's, and it now does
what Envoy does. A new entry needs a reason from upstream and a rule that explains exactly its differences."""


def classify(case: Case, outcome: RequestOutcome, known: tuple[KnownDivergence, ...] = KNOWN) -> None:
    """Fill `outcome.known` with the entries that explain some of its differences."""
    outcome.known = {}
    for entry in known:
        explained = entry.explains(case, outcome)
        if explained:
            outcome.known[entry.id] = explained
