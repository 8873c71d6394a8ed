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
# # agentgateway "API key auth", executed
#
# agentgateway's user guide *API key auth* (`AgentgatewayPolicy.traffic.apiKeyAuthentication`), step by step:
# the Strict flow, label selectors and Optional mode from the guide, then two things the guide does not show:
# **Permissive** mode and **hashed keys** (`keyHash`, in a Secret and in a ConfigMap).
#
# Every request is sent for real and shown with its `curl` equivalent; assertions make the notebook fail when the
# gateway behaves otherwise. Keys never appear in the outputs (notebook 01 explains why). Default target: the
# embedded reference gateway; set `TARGET` to use a cluster running agentgateway.

# %%
import base64
import json

from IPython.display import display

from conformance.notebook import Playground, register_keys
from reference_impl.keygen import generate_key, hashed_config_map, key_hash

# %% tags=["parameters"]
TARGET = "reference"  # reference | kind | cluster (envoy implements only the kgateway profile)
TARGET_OPTIONS = {}

# %% [markdown]
# ## Before you begin
# A Gateway `agentgateway-proxy` with an HTTP listener on port 80 in `agentgateway-system`, and the `httpbin`
# HTTPRoute for `www.example.com`. (The guide port-forwards `localhost:8080` to that listener.)

# %%
gw = Playground.for_target(TARGET, TARGET_OPTIONS, profile="agentgateway")
display(gw)
gw.apply(gw.base_manifests())

# %% [markdown]
# ## Set up API key auth
# ### 1-3. The key, the Secret, and how it is stored
# The guide's sample key and Secret, verbatim.
#
# **Erratum 4.** `type: extauth.solo.io/apikey` and the entry name `api-key` are not needed: agentgateway reads
# every entry of the Secret as one key, whatever its name (the upstream docs later removed both).

# %%
GUIDE_KEY = "N2YwMDIxZTEtNGUzNS1jNzgzLTRkYjAtYjE2YzRkZGVmNjcy"
register_keys([GUIDE_KEY])
SECRET = """
apiVersion: v1
kind: Secret
metadata:
  name: apikey
  namespace: agentgateway-system
  labels:
    app: httpbin
type: extauth.solo.io/apikey
stringData:
  api-key: N2YwMDIxZTEtNGUzNS1jNzgzLTRkYjAtYjE2YzRkZGVmNjcy
"""
display(gw.apply(SECRET))
gw.get("Secret", "agentgateway-system", "apikey")  # data.api-key is base64: shown redacted, as any key

# %% [markdown]
# ### 4. The AgentgatewayPolicy, Strict mode
# Verbatim from the guide. `Strict` is also the default. With no `location`, the key is read from the
# `Authorization` header with the prefix `Bearer `.

# %%
POLICY = """
apiVersion: agentgateway.dev/v1alpha1
kind: AgentgatewayPolicy
metadata:
  name: apikey-auth
  namespace: agentgateway-system
spec:
  targetRefs:
  - group: gateway.networking.k8s.io
    kind: Gateway
    name: agentgateway-proxy
  traffic:
    apiKeyAuthentication:
      mode: Strict
      secretRef:
        name: apikey
"""
display(gw.apply(POLICY))
condition = gw.status("AgentgatewayPolicy", "agentgateway-system", "apikey-auth")
assert condition.accepted, condition
display(condition)

# %% [markdown]
# ### 5. Without a key: 401
# The guide's output ends with `found%`: that `%` is the shell's mark for "no newline at the end", not part of the
# body.

# %%
r = gw.request("GET", "/headers", host="www.example.com", expect=401)
assert r.body == "api key authentication failure: no API Key found", r.body
assert r.header("content-type").startswith("text/plain") and r.header("www-authenticate") is None
display(r)

# %% [markdown]
# ### 6. With the key in the `Authorization` header: 200
# The guide's exact headers. The credential is removed before the request reaches httpbin.

# %%
AUTH = {"Authorization": f"Bearer {GUIDE_KEY}"}
r = gw.request("GET", "/headers", host="www.example.com", headers=AUTH, expect=200)
assert "authorization" not in r.upstream_headers()
assert GUIDE_KEY not in repr(r) and GUIDE_KEY not in r._repr_html_()
display(r)

# %% [markdown]
# How the header is read (docs/SPEC.md): the prefix matches **case-insensitively**; a header without the prefix
# counts as **no key** (so `Basic …` gets "no API Key found", not "invalid"); a wrong key gets "invalid credentials".

# %%
display(gw.request(headers={"Authorization": f"bearer {GUIDE_KEY}"}, expect=200))
r = gw.request(headers={"Authorization": "Basic dXNlcjpwYXNz"}, expect=401)
assert r.body.endswith("no API Key found"), r.body
display(r)
r = gw.request(headers={"Authorization": "Bearer not-the-key"}, expect=401)
assert r.body == "api key authentication failure: invalid credentials", r.body
display(r)

# %% [markdown]
# **Erratum 6: a key stored from a file keeps its newline.** agentgateway uses a raw Secret entry exactly as stored,
# not trimmed. `kubectl create secret generic apikey --from-file=from-file=key.txt` stores the file's trailing
# newline, so the stored key is the key plus `\n`, which no `Authorization` header can carry: the key is rejected as
# invalid, and the policy still says `Valid`. Store keys with `--from-literal`, `printf '%s'` into the file, or
# `stringData`.

# %%
FILE_KEY = generate_key()
register_keys([FILE_KEY])
from_file = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"name": "apikey", "namespace": "agentgateway-system"},
    "data": {"from-file": base64.b64encode(f"{FILE_KEY}\n".encode()).decode()},  # what --from-file stores
}
display(gw.apply(from_file))
r = gw.request(headers={"Authorization": f"Bearer {FILE_KEY}"}, expect=401)
assert r.body == "api key authentication failure: invalid credentials", r.body
display(r)
condition = gw.status("AgentgatewayPolicy", "agentgateway-system", "apikey-auth")
assert (condition.status, condition.reason) == ("True", "Valid"), condition
display(condition)
display(gw.apply({**from_file, "data": {}, "stringData": {"from-file": FILE_KEY}}))  # the key without the newline
display(gw.request(headers={"Authorization": f"Bearer {FILE_KEY}"}, expect=200))

# %% [markdown]
# ## Cleanup
# `kubectl delete AgentgatewayPolicy apikey-auth -n agentgateway-system`, `kubectl delete secret apikey -n
# agentgateway-system`: the route is open again.

# %%
display(gw.delete(POLICY))
display(gw.delete(SECRET))
gw.request(expect=200)

# %% [markdown]
# ## Other configuration examples
# ### Label selectors
# The guide's `secretSelector`. For agentgateway the selector only looks in the policy's own namespace. A second
# labelled Secret adds a second client; an unlabelled Secret is ignored.

# %%
gw.apply(SECRET)
OTHER_KEY, STRANGER_KEY = generate_key(), generate_key()
register_keys([OTHER_KEY, STRANGER_KEY])
MORE_SECRETS = [
    {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "apikey-2", "namespace": "agentgateway-system", "labels": {"app": "httpbin"}},
        "stringData": {"client-2": OTHER_KEY},
    },
    {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "apikey-unlabelled", "namespace": "agentgateway-system"},
        "stringData": {"stranger": STRANGER_KEY},
    },
]
gw.apply(MORE_SECRETS)
SELECTOR_POLICY = """
apiVersion: agentgateway.dev/v1alpha1
kind: AgentgatewayPolicy
metadata:
  name: apikey-auth
  namespace: agentgateway-system
spec:
  targetRefs:
  - group: gateway.networking.k8s.io
    kind: Gateway
    name: agentgateway-proxy
  traffic:
    apiKeyAuthentication:
      mode: Strict
      secretSelector:
        matchLabels:
          app: httpbin
"""
display(gw.apply(SELECTOR_POLICY))
display(gw.request(headers=AUTH, expect=200))
display(gw.request(headers={"Authorization": f"Bearer {OTHER_KEY}"}, expect=200))
display(gw.request(headers={"Authorization": f"Bearer {STRANGER_KEY}"}, expect=401))
gw.delete(MORE_SECRETS)

# %% [markdown]
# ### Optional validation mode
# A valid key passes, **no key passes**, but a *wrong* key is still rejected (the guide's diagram says so too).

# %%
OPTIONAL = POLICY.replace("mode: Strict", "mode: Optional")
display(gw.apply(OPTIONAL))
r = gw.request(expect=200)
assert "authorization" not in r.upstream_headers()
display(r)
display(gw.request(headers=AUTH, expect=200))
r = gw.request(headers={"Authorization": "Bearer not-the-key"}, expect=401)
assert r.body.endswith("invalid credentials")
display(r)

# %% [markdown]
# ### Permissive mode (not in the guide)
# Nothing is rejected. A wrong key is forwarded **with the credential kept** (the upstream can see what was tried);
# a valid key is still removed.
#
# | request | Strict | Optional | Permissive |
# |---|---|---|---|
# | no key | 401 missing | forwarded | forwarded |
# | invalid key | 401 invalid | **401 invalid** | forwarded, credential kept |
# | valid key | forwarded, credential removed | same | same |

# %%
display(gw.apply(POLICY.replace("mode: Strict", "mode: Permissive")))
display(gw.request(expect=200))
r = gw.request(headers={"Authorization": "Bearer not-the-key"}, expect=200)
assert r.upstream_headers()["authorization"] == "Bearer not-the-key"
display(r)
r = gw.request(headers=AUTH, expect=200)
assert "authorization" not in r.upstream_headers()
display(r)

# %% [markdown]
# On the reference gateway the admin counters tell the outcomes apart: `<anonymous>` (no key, let through),
# `<permissive-invalid>` (wrong key, let through), and the Secret entry name for valid keys.

# %%
if gw.is_reference:
    stats = gw.stats()
    display(stats)
    policy = "AgentgatewayPolicy agentgateway-system/apikey-auth"
    assert stats.allowed("<permissive-invalid>", policy) >= 1, stats.data
    assert stats.allowed("<anonymous>", policy) >= 2, stats.data
    assert stats.allowed("api-key", policy) >= 1, stats.data
else:
    print(f"per-client counters come from the reference gateway's admin endpoint; target is {TARGET}")

# %% [markdown]
# ## Hashed keys (not in the guide)
# A Secret or ConfigMap entry can hold `{"keyHash": "sha256:<hex>", "metadata": {...}}` instead of the key: the
# gateway compares SHA-256 digests anyway, so it never needs the key itself. Whoever reads the hash cannot call the
# API with it.
#
# ### keyHash in a Secret

# %%
HASHED_KEY = generate_key()
register_keys([HASHED_KEY])
entry = {"keyHash": key_hash(HASHED_KEY), "metadata": {"name": "batch-job", "team": "data"}}
HASHED_SECRET = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"name": "apikey-hashed", "namespace": "agentgateway-system"},
    "stringData": {"batch-job": json.dumps(entry)},
}
display(gw.apply(HASHED_SECRET))
display(gw.apply(POLICY.replace("name: apikey\n", "name: apikey-hashed\n")))
display(gw.request(headers={"Authorization": f"Bearer {HASHED_KEY}"}, expect=200))
display(gw.request(headers={"Authorization": f"Bearer {entry['keyHash']}"}, expect=401))  # the hash is no key

# %% [markdown]
# ### keyHash in a ConfigMap
# ConfigMaps are not confidential, so they may hold **only** hashes: `configMapSelector` selects them by label.
# A raw key in a ConfigMap is refused: that entry is dropped, the others still apply, and the policy reports
# `Accepted=True` with reason `PartiallyValid` and the error as message.

# %%
CM_KEY, RAW_KEY = generate_key(), generate_key()
register_keys([CM_KEY, RAW_KEY])
config_map = hashed_config_map("apikey-hashes", "agentgateway-system", {"reporting": CM_KEY}, labels={"keys": "hashed"})
config_map["data"]["careless"] = RAW_KEY  # a raw key where only hashes belong
display(gw.apply(config_map))
display(
    gw.apply("""
apiVersion: agentgateway.dev/v1alpha1
kind: AgentgatewayPolicy
metadata:
  name: apikey-auth
  namespace: agentgateway-system
spec:
  targetRefs:
  - group: gateway.networking.k8s.io
    kind: Gateway
    name: agentgateway-proxy
  traffic:
    apiKeyAuthentication:
      configMapSelector:
        matchLabels:
          keys: hashed
""")
)
condition = gw.status("AgentgatewayPolicy", "agentgateway-system", "apikey-auth")
assert condition.status == "True" and condition.reason == "PartiallyValid", condition
assert "must use keyHash" in condition.message, condition.message
display(condition)
display(gw.request(headers={"Authorization": f"Bearer {CM_KEY}"}, expect=200))
display(gw.request(headers={"Authorization": f"Bearer {RAW_KEY}"}, expect=401))

# %% [markdown]
# ## Done

# %%
gw.reset()
gw.close()
