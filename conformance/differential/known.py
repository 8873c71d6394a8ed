"""Known divergences: differences between two real gateways that are understood, with their upstream reason.

A request whose every difference is explained by an entry here is listed under that entry, not failed. Each entry
explains exactly the differences its rule, computed from the two observations, reproduces (never "anything in the
query"), so a new difference in the same place still fails. Delete an entry once both sides agree: a run reports
the entries that matched nothing.
"""

from __future__ import annotations

import re
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


#: kgateway main (2.5.0-dev) prints a selector as `(matchLabels: map[...], matchExpressions: [...])`; v2.3 has no
#: matchExpressions and prints the labels map alone.
_NEWEST_SELECTOR = re.compile(r"\(matchLabels: (map\[[^\]]*\]), matchExpressions: \[\]\)")


def _selector_wording(case: Case, outcome: RequestOutcome) -> list[Difference]:
    """Policy statuses that differ only in how the selector is printed, one side in each release's words."""
    return [
        d
        for d in outcome.differences
        if d.aspect == "policy status"
        and d.a != d.b
        and _NEWEST_SELECTOR.sub(r"\1", d.a) == _NEWEST_SELECTOR.sub(r"\1", d.b)
    ]


KNOWN: tuple[KnownDivergence, ...] = (
    KnownDivergence(
        id="kgateway-2.3-selector-wording",
        title="kgateway v2.3 prints a selector that matches no Secret as its labels map alone",
        reason=(
            "The reference gateway and the envoy target follow kgateway's newest API, whose secretSelector also has "
            "matchExpressions and whose message prints both fields; v2.3 prints `map[k:v]`. Same status and reason."
        ),
        source=(
            "kgateway v2.3.6 pkg/kgateway/extensions2/plugins/trafficpolicy/api_key_auth.go "
            '(`"no secrets found matching selector %v in namespace %s", ak.SecretSelector.MatchLabels`); '
            "conformance/feature_releases.yaml (secret-selector-expressions since v2.5.0)"
        ),
        status="release difference, kept until the pinned kgateway has matchExpressions",
        explains=_selector_wording,
    ),
)
"""Divergences of Envoy's data plane that long runs found (its query rebuild, its joining of repeated inline
headers, its Cookie rebuild, a client id header removed with the credential) were the reference gateway's, and it
now does what Envoy does. A new entry needs a reason from upstream and a rule that explains exactly its
differences."""


def classify(case: Case, outcome: RequestOutcome, known: tuple[KnownDivergence, ...] = KNOWN) -> None:
    """Fill `outcome.known` with the entries that explain some of its differences."""
    outcome.known = {}
    for entry in known:
        explained = entry.explains(case, outcome)
        if explained:
            outcome.known[entry.id] = explained
