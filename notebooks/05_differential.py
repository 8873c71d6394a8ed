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
# # Where do two gateways disagree?
#
# The scenarios in `features/` check what someone thought of. A **differential run** checks what nobody thought
# of: hypothesis generates valid policies (key sources in any order and combination, `forwardCredential`,
# `clientIdHeader`, Secrets by name and by selector, policies on the Gateway, a listener, the route, one rule,
# `disable`) and requests aimed at them (right and wrong keys, `Bearer` variants, empty values, repeated headers
# and parameters, percent-escapes, quoted cookies, spoofed client ids, neighbours in odd orders). Both targets get
# the same manifests through their own apply path and the same request bytes; their answers and what the
# upstream received (request line and every header, from an echo upstream) are compared.
#
# Every kind of difference is **shrunk** to a minimal policy and request and written as a Gherkin scenario in the
# suite's own steps, stating what the second target (the baseline) did. Differences whose cause is known are
# listed with their upstream reason instead of failing. The same run from a shell:
# `apikey-conformance differential --targets reference,envoy --profile kgateway --examples 300 --seed 9`.

# %%
from IPython.display import display

from conformance.notebook.differential import run_differential_view

# %% tags=["parameters"]
TARGETS = "reference,envoy"  # A,B: A is compared against the baseline B (any two targets)
PROFILE = "kgateway"  # kgateway | agentgateway (Envoy implements kgateway only)
EXAMPLES = 300  # generated policy worlds, each with up to four requests
SEED = 9  # the same seed generates the same cases (for the same code)
FAULT = "later-source-rescues"  # a known fault for the second run (conformance/targets/faults.py)

# %% [markdown]
# ## The reference gateway against a real Envoy
# Envoy is kgateway's data plane, so where the two differ Envoy shows what kgateway users get. The table has one
# row per kind of divergence: the ones marked *known* are documented in the README with their reason (reported
# as reference gateway bugs, to be fixed there); anything else would fail the run.

# %%
first, second = (name.strip() for name in TARGETS.split(","))
view = run_differential_view(targets=(first, second), profile=PROFILE, examples=EXAMPLES, seed=SEED)
display(view)

# %%
assert view.result.policies == EXAMPLES and view.result.requests >= EXAMPLES, view.headline()
assert not view.result.failed, view.frame()
view.frame()

# %% [markdown]
# ## A fault is found and shrunk
# The reference gateway can be started with a known behavioural fault. With `later-source-rescues` a wrong key in
# the first key source is rescued by a right key in a later one, which Envoy never does. The run finds it among
# the generated cases and shrinks it: one policy with two key sources, one request with a wrong key first and the
# right key second. The scenario below is what the run prints, ready to paste into a feature file (here with the
# keys redacted; the scenarios file written by `write_scenarios` holds them).

# %%
for seed in range(1, 6):  # almost always the first seed; a few more make the cell independent of luck
    faulty = run_differential_view(
        targets=(first, second), profile=PROFILE, examples=100, seed=seed, target_options=({"fault": FAULT}, {})
    )
    if faulty.result.unknown:
        break
display(faulty)

# %% [markdown]
# The faulty gateway lets the request through where Envoy answers 401: to the upstream (200), or to the 500 of a
# route kgateway replaced (an invalid route policy behind a valid one around it), so the run may list both kinds.
# The scenario of the first:

# %%
assert all({"status 200/401", "status 500/401"} & set(d.signature) for d in faulty.result.unknown)
[divergence] = [d for d in faulty.result.unknown if "status 200/401" in d.signature]
assert divergence.reproducible
print(faulty.scenario(divergence.number))
