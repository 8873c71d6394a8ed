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

# %% tags=["parameters"]
TARGET = "reference"  # reference | envoy | kind | cluster
PROFILE = "all"  # kgateway | agentgateway | all
TARGET_OPTIONS = {}  # --target-option KEY=VALUE pairs
EXTRA_ARGS = []  # more pytest / harness options, e.g. ["--implementation-project", "my-gateway"]
REPORT_DIR = None  # default: reports/notebook-conformance in the project root

# %% [markdown]
# ## Run the suite

# %%
summary = run_conformance(
    target=TARGET, profile=PROFILE, extra_args=EXTRA_ARGS, target_options=TARGET_OPTIONS, folder=REPORT_DIR
)
print(f"$ {summary.command}")
display(summary)

# %% [markdown]
# A certification run must not fail any scenario it runs. (Skipped scenarios make a profile `partial`;
# not-supported ones do not count.)

# %%
assert summary.report_path.is_file()
assert summary.scenarios, "no scenario ran: " + summary.output[-2000:]
assert summary.ok, summary.failures()
assert summary.totals["passed"] > 0, f"nothing passed (a target that cannot run skips everything):\n{summary.output}"
if TARGET == "reference":
    assert summary.result == "success", summary
    assert summary.totals["not-supported"] == 0  # the reference gateway implements both profiles completely
print(summary)

# %% [markdown]
# ## Pass / skip / fail per feature

# %%
figure = summary.chart()
chart_file = summary.save_chart(summary.report_path.parent / "conformance-chart.png")
print(f"chart saved to {chart_file}")
display(figure)

# %% [markdown]
# ## Scenario by scenario
# Failed and skipped scenarios first (with the reason), then everything.

# %%
display(summary.scenario_table(["failed", "skipped"]))
summary.scenario_table()

# %% [markdown]
# ## Where the results are
# * the **report** (publish it with your implementation's name and version: `--implementation-organization`,
#   `--implementation-project`, `--implementation-version`, ... in `EXTRA_ARGS`);
# * the **allure results**: steps, the YAML each scenario applied and every request / response, with every API key
#   redacted. `npx allure generate` turns them into an HTML report.

# %%
for what, where in summary.where():
    print(f"{what:15} {where}")
report_text = summary.report_path.read_text(encoding="utf-8")
print()
print("\n".join(report_text.splitlines()[:30]))

# %% [markdown]
# The published artifacts must not contain keys. Every Secret that a scenario applied appears in the allure results
# as an attached YAML document: check that each of its values was redacted (empty values and agentgateway `keyHash`
# entries hold no key).

# %%
leaks = summary.unredacted_secret_entries()
assert not leaks, leaks
print("no Secret value in the allure attachments is unredacted")
