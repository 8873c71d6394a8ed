"""The differential run: hypothesis generates cases, both targets answer them, every new divergence is shrunk.

Each kind of divergence (its signature: status pair, aspects, header roles) raises an exception class of its own,
so hypothesis treats kinds as distinct bugs and shrinks each to a minimal case. Found kinds are then accepted and
the search starts again with the same seed: already compared cases come from a cache, so the search goes on
where it stopped until a pass finds nothing new. That last pass saw exactly the generated examples, and gives the
counts. Known divergences are tallied there, not failed (and shrunk only on request).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, given, seed, settings
from hypothesis.errors import HypothesisException

from conformance.differential import agentgateway, gherkin, kgateway
from conformance.differential.compare import config_differences, differences, signature, status_differences
from conformance.differential.known import KNOWN, KnownDivergence, classify
from conformance.differential.minimize import minimize
from conformance.differential.model import Case, Difference, RequestOutcome
from conformance.differential.pair import TargetPair
from conformance.differential.translation import translation_differences
from conformance.http import RequestSpec
from conformance.profiles import PROFILES
from conformance.redact import REDACTOR
from conformance.targets import TargetError

DIALECTS: Mapping[str, ModuleType] = {"kgateway": kgateway, "agentgateway": agentgateway}
Signature = tuple[str, ...]


@dataclass(frozen=True)
class DifferentialSettings:
    targets: tuple[str, str] = ("reference", "envoy")
    profile: str = "kgateway"
    examples: int = 40
    seed: int = 0
    target_options: tuple[Mapping[str, Any], Mapping[str, Any]] = ({}, {})
    max_requests: int = 4  # per generated policy world
    max_divergences: int = 8  # kinds shrunk before the run only collects the rest
    shrink_known: bool = False

    def __post_init__(self) -> None:
        if self.profile not in DIALECTS:
            raise ValueError(f"unknown profile {self.profile!r}; expected one of {', '.join(DIALECTS)}")
        if len(self.targets) != 2:
            raise ValueError("a differential run compares exactly two targets")
        if self.examples < 1 or self.max_requests < 1:
            raise ValueError("examples and max requests must be at least 1")

    def command(self) -> str:
        """The command line that repeats this run."""
        options = [
            f"--target-option {index + 1}:{key}={value}"
            for index, given_options in enumerate(self.target_options)
            for key, value in given_options.items()
        ]
        return " ".join(
            [
                "apikey-conformance differential",
                f"--targets {','.join(self.targets)}",
                f"--profile {self.profile}",
                f"--examples {self.examples}",
                f"--seed {self.seed}",
                *options,
            ]
        )


@dataclass
class Divergence:
    """One kind of divergence, shrunk (or, past the limit, as first met) to one case and one request."""

    number: int
    signature: Signature
    case: Case
    outcome: RequestOutcome
    known: tuple[str, ...] = ()
    shrunk: bool = True
    scenario: str = ""
    reproducible: bool = False
    notes: list[str] = field(default_factory=list)
    requests: int = 0  # generated requests that showed it (in the last pass)


@dataclass
class KnownTally:
    entry: KnownDivergence
    requests: int = 0
    example: Divergence | None = None  # shrunk when asked for, else the first request that showed it


@dataclass
class DifferentialResult:
    settings: DifferentialSettings
    labels: tuple[str, str]
    policies: int = 0  # generated policy worlds compared
    requests: int = 0  # their requests, each sent to both targets
    shrink_policies: int = 0  # further worlds compared while shrinking
    shrink_requests: int = 0
    divergences: list[Divergence] = field(default_factory=list)
    known: dict[str, KnownTally] = field(default_factory=dict)
    unstable: int = 0  # differences that did not repeat when the request was sent again
    elapsed: float = 0.0
    versions: dict[str, dict[str, str]] = field(default_factory=dict)
    #: Why the requests were generated but not sent (a target without its data plane): only the policies'
    #: status and translation were compared.
    not_sent: str | None = None

    @property
    def failed(self) -> bool:
        return any(not d.known for d in self.divergences)

    @property
    def unknown(self) -> list[Divergence]:
        return [d for d in self.divergences if not d.known]


class _Found(Exception):
    """A new kind of divergence in a generated case (subclassed per signature, see _Search.error_for)."""

    def __init__(self, case: Case, index: int, signature: Signature, known: tuple[str, ...]) -> None:
        super().__init__(", ".join(signature))
        self.case, self.index, self.signature, self.known = case, index, signature, known


def _leaves(error: BaseException) -> list[_Found]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in _leaves(inner)]
    return [error] if isinstance(error, _Found) else []


class _Search:
    def __init__(self, config: DifferentialSettings, pair: TargetPair, progress: Callable[[str], None]) -> None:
        self.config = config
        self.pair = pair
        self.progress = progress
        self.dialect = DIALECTS[config.profile]
        self.base = PROFILES[config.profile].base_manifests(self.dialect.HOST)
        self.cache: dict[str, list[RequestOutcome]] = {}
        self.seen: dict[Signature, Divergence] = {}
        self.errors: dict[Signature, type[_Found]] = {}
        self.collect_only = False
        self.passed: list[tuple[Case, list[RequestOutcome]]] = []  # the current pass, in order
        self.unstable = 0
        self.compared_requests = 0

    # -- comparing ------------------------------------------------------------------------------------------
    def compare(self, case: Case) -> list[RequestOutcome]:
        fingerprint = case.fingerprint()
        cached = self.cache.get(fingerprint)
        if cached is not None:
            return cached
        self.pair.load([*self.base, *case.manifests])
        # The policies' status is part of every request's outcome: a request that hit a differently judged
        # policy is where a scenario can show it.
        status = status_differences(*self.pair.statuses(case.manifests))
        configs = self.pair.envoy_configs()  # two real Envoys (envoy against local): what each was sent
        status += config_differences(*configs) if configs is not None else []
        translations = self.pair.translations()  # agentgateway: the real controller's xDS, the reference's policies
        status += translation_differences(*translations) if translations is not None else []
        outcomes = [self._outcome(case, request, status) for request in case.requests]
        self.cache[fingerprint] = outcomes
        self.compared_requests += len(outcomes)
        return outcomes

    def _outcome(self, case: Case, request: RequestSpec, status: list[Difference]) -> RequestOutcome:
        a, b = self.pair.send(request)
        outcome = RequestOutcome(request, a, b, differences(a, b))
        if outcome.differences:
            again = differences(*self.pair.send(request))  # a difference counts only if it repeats
            if [(d.aspect, d.name) for d in again] != [(d.aspect, d.name) for d in outcome.differences]:
                self.unstable += 1
                outcome.differences = []
        outcome.differences = [*status, *outcome.differences]
        classify(case, outcome, KNOWN)
        return outcome

    def kind(self, case: Case, outcome: RequestOutcome) -> tuple[Signature, tuple[str, ...]] | None:
        unexplained = outcome.unexplained
        if unexplained:
            return signature(case, unexplained), ()
        if outcome.known:
            ids = tuple(sorted(outcome.known))
            return (f"known: {', '.join(ids)}",), ids
        return None

    def diverges_as(self, kind: Signature) -> Callable[[Case, int], bool]:
        def still(case: Case, index: int) -> bool:
            try:
                outcomes = self.compare(case)
            except (ValueError, TargetError):  # a smaller case the targets refuse is not a smaller case
                return False
            found = self.kind(case, outcomes[index])
            return found is not None and found[0] == kind

        return still

    # -- hypothesis -----------------------------------------------------------------------------------------
    def error_for(self, kind: Signature) -> type[_Found]:
        if kind not in self.errors:
            self.errors[kind] = type(f"Divergence{len(self.errors) + 1}", (_Found,), {})
        return self.errors[kind]

    def check(self, case: Case) -> None:
        outcomes = self.compare(case)
        self.passed.append((case, outcomes))
        if self.collect_only:
            return
        for index, outcome in enumerate(outcomes):
            found = self.kind(case, outcome)
            if found is None or found[0] in self.seen or (found[1] and not self.config.shrink_known):
                continue
            raise self.error_for(found[0])(case, index, *found)

    def one_pass(self) -> list[_Found]:
        self.passed = []

        @settings(
            max_examples=self.config.examples,
            database=None,
            deadline=None,
            derandomize=False,
            phases=(Phase.generate, Phase.shrink),
            report_multiple_bugs=True,
            suppress_health_check=list(HealthCheck),
            verbosity=Verbosity.quiet,
            print_blob=False,
        )
        @seed(self.config.seed)
        @given(self.dialect.cases(self.config.max_requests))
        def differential(case: Case) -> None:
            self.check(case)

        try:
            differential()
        except (_Found, BaseExceptionGroup) as error:
            found = _leaves(error)
            if not found:
                raise
            return found
        except HypothesisException as error:  # e.g. a flaky target: say so without the example (it holds keys)
            raise RuntimeError(f"hypothesis stopped the search: {type(error).__name__}") from None
        return []


def register_keys(case: Case) -> None:
    """Make the redactor know a reported case's keys: raw, in JSON entries, and those known only by a hash that a
    request presents. Only reported cases are registered: thousands of short generated keys would redact text
    that merely resembles one."""
    REDACTOR.add_manifests(list(case.manifests))
    for request in case.requests:
        REDACTOR.add_presented(value for _, value in (*request.headers, *request.query, *request.cookies))


def _render(search: _Search, divergence: Divergence) -> None:
    register_keys(divergence.case)
    config, (label_a, label_b) = search.config, search.pair.labels
    outcome = divergence.outcome
    expected = gherkin.expectations(outcome.a, outcome.b, outcome.differences)
    what = ", ".join(divergence.signature)
    comments = [
        f"{label_a} and {label_b} differ ({what}); the expectations are what {label_b} did",
        f"found by: {config.command()}",
    ]
    for entry_id in divergence.known:
        comments.append(f"known divergence {entry_id}: listed, not failed (see the README)")
    divergence.scenario = gherkin.scenario(
        f"Differential {divergence.number}: {label_a} against {label_b}, {what}",
        search.dialect.feature_tag(divergence.case, outcome),
        divergence.case,
        outcome.request,
        expected,
        search.dialect.HOST,
        comments,
    )
    divergence.reproducible = expected.distinguishing and not expected.notes
    divergence.notes = expected.notes


def run_differential(
    config: DifferentialSettings,
    progress: Callable[[str], None] = lambda message: None,
    pair: TargetPair | None = None,
) -> DifferentialResult:
    """Start both targets (unless a started pair is given), search, shrink, and stop them again."""
    started = time.monotonic()
    own = pair is None
    pair = pair or TargetPair(config.targets, config.target_options, config.profile)
    if own:
        progress(f"starting {' and '.join(config.targets)}")
        pair.start()
    try:
        result = _run(config, pair, progress)
        result.versions = pair.versions()
        result.not_sent = pair.traffic_unavailable
    finally:
        if own:
            pair.close()
    result.elapsed = time.monotonic() - started
    return result


def _run(config: DifferentialSettings, pair: TargetPair, progress: Callable[[str], None]) -> DifferentialResult:
    search = _Search(config, pair, progress)
    result = DifferentialResult(config, pair.labels)
    while True:
        found = [leaf for leaf in search.one_pass() if leaf.signature not in search.seen]
        if not found:
            break
        for leaf in found:
            case, index = minimize(leaf.case, leaf.index, search.diverges_as(leaf.signature))
            outcome = search.compare(case)[index]
            number = len(search.seen) + 1
            search.seen[leaf.signature] = Divergence(number, leaf.signature, case, outcome, leaf.known)
            progress(f"divergence {number}: {', '.join(leaf.signature)} (shrunk)")
        if sum(not d.known for d in search.seen.values()) >= config.max_divergences:
            progress(f"{config.max_divergences} kinds of divergence found; the rest are collected without shrinking")
            search.collect_only = True
            search.one_pass()
            break
    _tally(search, result)
    generated_requests = sum(len(case.requests) for case, _ in search.passed)
    result.policies, result.requests = len(search.passed), generated_requests
    result.shrink_policies = max(len(search.cache) - len({c.fingerprint() for c, _ in search.passed}), 0)
    result.shrink_requests = max(search.compared_requests - generated_requests, 0)
    result.unstable = search.unstable
    for divergence in search.seen.values():
        _render(search, divergence)
    for tally in result.known.values():
        if tally.example is not None and not tally.example.scenario:
            _render(search, tally.example)
    ordered = sorted(search.seen.values(), key=lambda d: (bool(d.known), d.number))
    result.divergences = ordered
    return result


def _tally(search: _Search, result: DifferentialResult) -> None:
    """Counts over the generated examples (the last pass), and kinds met only past the shrinking limit."""
    result.known = {entry.id: KnownTally(entry) for entry in KNOWN}
    counts: Counter[Signature] = Counter()
    for case, outcomes in search.passed:
        for outcome in outcomes:
            found = search.kind(case, outcome)
            if found is None:
                continue
            kind, known = found
            counts[kind] += 1
            for entry_id in known:
                result.known[entry_id].requests += 1
            if kind in search.seen:
                continue
            if not known or search.config.shrink_known:
                search.seen[kind] = Divergence(len(search.seen) + 1, kind, case, outcome, known, shrunk=False)
            for entry_id in known:
                if result.known[entry_id].example is None:
                    result.known[entry_id].example = Divergence(0, kind, case, outcome, known, shrunk=False)
    for kind, divergence in search.seen.items():
        divergence.requests = counts.get(kind, 0)
        for entry_id in divergence.known:
            result.known[entry_id].example = divergence
