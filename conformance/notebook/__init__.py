"""Notebook helpers: the gateway in one call, and objects that render as HTML (pandas tables) in Jupyter.

    gw = Playground.start(profile="kgateway")       # reference gateway + real httpbin, ephemeral ports
    gw.apply(yaml_text)                             # like `kubectl apply -f -`; Secrets' keys get redacted
    r = gw.request("GET", "/headers", headers={"api-key": "..."}, expect=200)   # shows the curl equivalent
    gw.status("TrafficPolicy", "kgateway-system", "apikey-auth"); gw.stats(); gw.close()

    summary = run_conformance(target="reference", profile="kgateway")   # the suite in a subprocess
    summary                                          # result tables; summary.chart() for pass/skip/fail per feature
    summary.features_frame()                         # the same tables as pandas DataFrames

By what they show: `views` (manifests, one response, a policy's status, counters), `results` (a conformance
run: report, scenario table, chart), `playground` (the gateway itself), `render` (redaction, HTML, tables).
Everything passes through `conformance.redact.REDACTOR`: a key never reaches a notebook's saved output.
"""

from conformance.notebook.playground import Playground, show_yaml
from conformance.notebook.render import redacted, register_keys
from conformance.notebook.results import (
    RunSummary,
    ScenarioTable,
    project_root,
    register_suite_keys,
    run_conformance,
)
from conformance.notebook.views import ConditionView, ManifestView, ResponseView, StatsView, as_stored

__all__ = [
    "ConditionView",
    "ManifestView",
    "Playground",
    "ResponseView",
    "RunSummary",
    "ScenarioTable",
    "StatsView",
    "as_stored",
    "project_root",
    "redacted",
    "register_keys",
    "register_suite_keys",
    "run_conformance",
    "show_yaml",
]
