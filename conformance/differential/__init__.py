"""Differential runs: the same generated policies and requests on two targets, every divergence shrunk to a
minimal, ready-to-paste Gherkin scenario.

    from conformance.differential import DifferentialSettings, run_differential
    result = run_differential(DifferentialSettings(targets=("reference", "envoy"), examples=20, seed=1))
    result.policies, result.requests, result.unknown     # counts and divergences not explained by KNOWN

The command line is `apikey-conformance differential --targets reference,envoy [--profile P] [--examples N]
[--seed S]`. Known divergences, with their upstream reasons, are in `known.py`.
"""

from conformance.differential.known import KNOWN, KnownDivergence
from conformance.differential.runner import DifferentialResult, DifferentialSettings, Divergence, run_differential

__all__ = ["KNOWN", "DifferentialResult", "DifferentialSettings", "Divergence", "KnownDivergence", "run_differential"]
