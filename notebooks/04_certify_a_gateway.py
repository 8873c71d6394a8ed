# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Certify a gateway
#
# The conformance suite runs every scenario in `features/` (Gherkin, one file per behaviour, tagged with a profile
# and a feature) against a **target**, and writes a ConformanceReport YAML plus allure results you can publish.
#
# * **Profiles**: `kgateway` (TrafficPolicy `apiKeyAuth`) and `agentgateway` (AgentgatewayPolicy
#   `apiKeyAuthentication`), each with *core* and *extended* features.
# * A target declares the profiles and features it implements; the other scenarios are **not supported**: reported,
#   but left out of the statistics (as in the Gateway API conformance suite).
# * Expectations follow Gateway API's eventual-consistency rule: 3 consecutive matches, polled every 100 ms, within
#   30 s.
#
# This notebook runs the suite from a cell, as `python -m pytest --pyargs conformance.suite` in a subprocess, then
# shows the results. Against the embedded reference gateway the whole suite takes a few seconds; `TARGET = "envoy"`
# checks the kgateway profile against a real Envoy (about 30 s); `kind` and `cluster` certify a gateway in Kubernetes
# (see `docs/certify.md`).

# %%
from IPython.display import display

from conformance.notebook import run_conformance
from conformance.redact import REDACTOR

# %% tags=["parameters"]
TARGET = "reference"  # reference | envoy | kind | cluster
PROFILE = "all"  # kgateway | agentgateway | all
TARGET_OPTIONS = {}  # --target-option KEY=VALUE pairs
EXTRA_ARGS = []  # more pytest / harness options, e.g. ["--implementation-project", "my-gateway"]
REPORT_DIR = None  # default: reports/notebook-conformance in the project root

# %% [markdown]
# ## Run the suite
# The summary names the target and the versions it reported, gives a verdict per profile (core and extended),
# the results per feature, any failed scenario, and where the files are (paths relative to the project).

# %%
summary = run_conformance(
    target=TARGET, profile=PROFILE, extra_args=EXTRA_ARGS, target_options=TARGET_OPTIONS, folder=REPORT_DIR
)
display(summary)

# %% [markdown]
# A certification run must not fail any scenario it runs, and must run all of them: a subset (`--run-scenarios`,
# `-k`) is reported as `partial` and written to a `.subset.yaml` file, never as a certification result.
# (Skipped scenarios make a profile `partial`; not-supported ones do not count.)

# %%
assert summary.report_path.is_file()
assert summary.scenarios, "no scenario ran: " + summary.output[-2000:]
assert summary.ok, summary.failures()
assert summary.totals["passed"] > 0, f"nothing passed (a target that cannot run skips everything):\n{summary.output}"
if TARGET == "reference" and not EXTRA_ARGS:
    assert summary.complete and summary.result == "success", summary
    assert summary.totals["not-supported"] == 0  # the reference gateway implements both profiles completely
print(summary.headline())
print(
    "certification:",
    "eligible" if summary.certification.get("eligible") else "; ".join(summary.certification.get("reasons", [])[:2]),
)

# %% [markdown]
# ## Pass / skip / fail per feature

# %%
figure = summary.chart()
chart_file = summary.save_chart(summary.report_path.parent / "conformance-chart.png")
display(figure)

# %% [markdown]
# ## Scenario by scenario
# Failed, skipped and infrastructure-error scenarios first (with the reason), then every scenario with its id
# (feature file and line). The same tables are pandas DataFrames: `summary.scenario_table().frame()`.

# %%
display(summary.scenario_table(["failed", "skipped", "infrastructure"]))
summary.scenario_table()

# %% [markdown]
# ## The report
# Publish it with your implementation's name and version (`--implementation-organization`, `-project`, `-url`,
# `-version`, `-contact` in `EXTRA_ARGS`): a complete run then also writes `<channel>-<version>-<mode>-report.yaml`,
# Gateway API's file name. The allure results hold the steps, the YAML each scenario applied and every distinct
# request / response; `tox -e report` turns them into HTML.

# %%
print("\n".join(summary.report_path.read_text(encoding="utf-8").splitlines()[:24]))

# %% [markdown]
# The published files must not contain keys. Every key the scenarios use is registered for redaction in this
# notebook too (`run_conformance` reads them from the scenarios), so the check below looks for every form of
# every key (plain, percent-encoded, base64, JSON-escaped, ...) in the report and every allure file, and checks
# that each Secret in the attachments was redacted.

# %%
published = [summary.report_path, *(p for p in summary.allure_dir.rglob("*") if p.is_file())]
leaking = [p.name for p in published if REDACTOR.redact(t := p.read_text(errors="replace")) != t]
assert not leaking, leaking
assert not summary.unredacted_secret_entries(), summary.unredacted_secret_entries()
print(f"{len(published)} published files hold none of the {len(REDACTOR.secrets)} registered key forms")
