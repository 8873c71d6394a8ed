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
# # kgateway "API key auth", executed
#
# This notebook walks through kgateway's user guide *API key auth* (`TrafficPolicy.apiKeyAuth`) step by step, and
# then every one of its "other configuration examples". Each request is sent for real and shown with its `curl`
# equivalent; an `assert` after it makes the notebook fail if the gateway does not behave as specified.
#
# Where the guide and the real implementation (kgateway's translator and Envoy's `api_key_auth` filter) disagree,
# the real implementation wins: those places are marked **Erratum** and numbered as in `docs/SPEC.md`.
#
# By default everything runs against the embedded **reference gateway** (with a real httpbin behind it) on ephemeral
# ports of this machine: no cluster needed. Set `TARGET` in the parameters cell (or `NOTEBOOK_TARGET=envoy` for
# `tox -e notebooks`) to run the same cells against a real Envoy configured as kgateway configures it, a kind
# cluster, or your own cluster.

# %%
import base64

from IPython.display import display

from conformance.notebook import Playground, register_keys
from reference_impl.keygen import generate_key

# %% tags=["parameters"]
TARGET = "reference"  # reference | envoy | kind | cluster
TARGET_OPTIONS = {}  # target settings, e.g. {"kubeconfig": "~/.kube/config"} for cluster

# %% [markdown]
# ## Before you begin
#
# The guide's prerequisites install kgateway and the sample app: a Gateway `http` with an HTTP listener on port 8080
# in `kgateway-system`, and an HTTPRoute `httpbin` sending `www.example.com` to httpbin. Here the playground starts
# the gateway and we apply those two resources. The guide then port-forwards the listener to `localhost:8080`; the
# playground's listener is on an ephemeral local port instead, shown in every `curl` line below.

# %%
gw = Playground.for_target(TARGET, TARGET_OPTIONS, profile="kgateway")
display(gw)
gw.apply(gw.base_manifests())

# %% [markdown]
# ## Set up API key auth
#
# ### 1. An API key
# The guide uses the sample key `N2YwMDIx…`. It is a published example, so it is written in this notebook's source,
# as in the guide; but nothing this notebook *prints* shows it (see step 3 for why).

# %%
GUIDE_KEY = "N2YwMDIxZTEtNGUzNS1jNzgzLTRkYjAtYjE2YzRkZGVmNjcy"
register_keys([GUIDE_KEY])

# %% [markdown]
# ### 2. Create the Secret
# Verbatim from the guide.
#
# **Erratum 2.** `type: extauth.solo.io/apikey` is not required (neither kgateway nor Envoy looks at a Secret's
# type), and the entry name `api-key` is not special: *every* entry of the Secret is one credential, and the entry
# name becomes the **client id** (`api-key` here). Further down, `clientIdHeader` makes that visible.

# %%
SECRET = """
apiVersion: v1
kind: Secret
metadata:
  name: apikey
  namespace: kgateway-system
  labels:
    app: httpbin
type: extauth.solo.io/apikey
stringData:
  api-key: N2YwMDIxZTEtNGUzNS1jNzgzLTRkYjAtYjE2YzRkZGVmNjcy
"""
gw.apply(SECRET)

# %% [markdown]
# ### 3. Verify the Secret: `kubectl get secret apikey -n kgateway-system -o yaml`
#
# The API server stores `stringData` base64-encoded under `data` and drops `stringData`; that is what the guide
# wants you to notice.
#
# **Why the value is shown as `[REDACTED]` here.** Base64 is an encoding, not encryption: whoever reads
# `data.api-key` has the key (`base64 -d`). The guide's key is a public sample, but this notebook is the template
# for trying *your* keys, and an executed notebook keeps its outputs (CI stores them as artifacts). So every output
# goes through the project's redactor, which knows each applied Secret's values in plain and base64 form. Instead of
# printing the encoded key we (a) show the same encoding step on a harmless string and (b) **assert** that the stored
# value is the base64 of the key.

# %%
stored = gw.get("Secret", "kgateway-system", "apikey")
display(stored)
encoded = stored.manifests[0]["data"]["api-key"]
assert "stringData" not in stored.manifests[0]
assert base64.b64decode(encoded).decode() == GUIDE_KEY
print(f"data.api-key holds {len(encoded)} base64 characters that decode to the {len(GUIDE_KEY)}-character key")
sample = base64.b64encode(b"not-a-real-key").decode()
print(f"the encoding step on a harmless value: base64('not-a-real-key') = {sample!r}")
print(f"and back: base64 -d {sample} -> {base64.b64decode(sample).decode()!r}")

# %% [markdown]
# ### 4. Create the TrafficPolicy
# Verbatim from the guide: every route of Gateway `http` now needs a key from Secret `apikey`.
#
# **Erratum 3.** The guide says this example "uses the `Strict` validation mode", and its diagram shows
# `mode: Strict`: TrafficPolicy has no mode at all (that is agentgateway's API). It also says requests need a valid
# `Authorization` header, while its own curl sends `api-key: Bearer …`: the default key source is the `api-key`
# header.

# %%
POLICY = """
apiVersion: gateway.kgateway.dev/v1alpha1
kind: TrafficPolicy
metadata:
  name: apikey-auth
  namespace: kgateway-system
spec:
  targetRefs:
  - group: gateway.networking.k8s.io
    kind: Gateway
    name: http
  apiKeyAuth:
    secretRef:
      name: apikey
"""
display(gw.apply(POLICY))
condition = gw.status("TrafficPolicy", "kgateway-system", "apikey-auth")
assert condition.accepted, condition
display(condition)

# %% [markdown]
# ### 5. A request without an API key: 401
# The guide's `curl -vi "localhost:8080/headers" -H "host: www.example.com"`.
#
# **Erratum 3.** The guide shows the body as `Client authentication failed`; the real body ends with a period, is
# `text/plain`, and no `WWW-Authenticate` header comes with the 401.

# %%
r = gw.request("GET", "/headers", host="www.example.com", expect=401)
assert r.body == "Client authentication failed.", r.body
assert r.header("content-type").startswith("text/plain")
assert r.header("www-authenticate") is None
display(r)

# %% [markdown]
# ### 6. The same request with the key: 200
# The guide's exact headers: `host: www.example.com` and `api-key: Bearer N2YwMDIx…`. Envoy removes a leading
# `Bearer ` (exactly that, case-sensitive) from a header value before comparing.
#
# httpbin echoes what it received: the `api-key` header is **not** there. Unless `forwardCredential: true`, the
# credential is removed before the request goes upstream (the guide's sample output shows that too).

# %%
r = gw.request("GET", "/headers", host="www.example.com", headers={"api-key": f"Bearer {GUIDE_KEY}"}, expect=200)
assert r.echo["headers"]["Host"] == "www.example.com"
assert "api-key" not in r.upstream_headers()
assert GUIDE_KEY not in repr(r) and GUIDE_KEY not in r._repr_html_()  # the view never shows the key
display(r)

# %% [markdown]
# What the guide's text says, against what the gateway does:
# * the key in an `Authorization` header (as the text claims) is **not** read: 401;
# * the `Bearer ` prefix is optional: the bare key works too;
# * a wrong key is rejected like a missing one.

# %%
r = gw.request(headers={"Authorization": f"Bearer {GUIDE_KEY}"}, expect=401)
display(r)
display(gw.request(headers={"api-key": GUIDE_KEY}, expect=200))
display(gw.request(headers={"api-key": "Bearer not-the-key"}, expect=401))

# %% [markdown]
# On the reference gateway the admin endpoint counts decisions per client: the allowed requests above were made by
# client **`api-key`**, the Secret entry's name (erratum 2).

# %%
if gw.is_reference:
    stats = gw.stats()
    display(stats)
    assert stats.allowed("api-key") >= 2
    assert stats.denied("<missing>") >= 1
else:
    print(f"per-client counters are a feature of the reference gateway's admin endpoint; target is {TARGET}")

# %% [markdown]
# ## Cleanup
# `kubectl delete TrafficPolicy apikey-auth -n kgateway-system` and `kubectl delete secret apikey -n kgateway-system`.
# Without the policy the route is open again.

# %%
display(gw.delete(POLICY))
display(gw.delete(SECRET))
gw.request(expect=200)

# %% [markdown]
# ## Other configuration examples
# The guide's other examples refer to the same Secret `apikey`, so we create it again. Each example below is a
# `TrafficPolicy` named `apikey-auth`: applying one replaces the previous one, as `kubectl apply` would.

# %%
gw.apply(SECRET)
KEY = {"api-key": f"Bearer {GUIDE_KEY}"}

# %% [markdown]
# ### Label selectors
# `secretSelector.matchLabels` selects every Secret with those labels (in the policy's namespace; other namespaces
# only with a ReferenceGrant). To see the selector at work we add a second labelled Secret for another client and an
# unlabelled one: the first key works, the second does not.

# %%
TEAM_B_KEY, UNLABELLED_KEY = generate_key(), generate_key()
register_keys([TEAM_B_KEY, UNLABELLED_KEY])
MORE_SECRETS = [
    {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "apikey-team-b", "namespace": "kgateway-system", "labels": {"app": "httpbin"}},
        "stringData": {"team-b": TEAM_B_KEY},
    },
    {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "apikey-unlabelled", "namespace": "kgateway-system"},
        "stringData": {"stranger": UNLABELLED_KEY},
    },
]
display(gw.apply(MORE_SECRETS))
display(
    gw.apply("""
apiVersion: gateway.kgateway.dev/v1alpha1
kind: TrafficPolicy
metadata:
  name: apikey-auth
  namespace: kgateway-system
spec:
  targetRefs:
  - group: gateway.networking.k8s.io
    kind: Gateway
    name: http
  apiKeyAuth:
    secretSelector:
      matchLabels:
        app: httpbin
""")
)
display(gw.request(headers=KEY, expect=200))
display(gw.request(headers={"api-key": TEAM_B_KEY}, expect=200))
display(gw.request(headers={"api-key": UNLABELLED_KEY}, expect=401))
gw.delete(MORE_SECRETS)

# %% [markdown]
# ### Custom header name
# `keySources: [{header: X-API-KEY}]`. Header names are case-insensitive. Once `keySources` is set, the default
# `api-key` header is no longer read.

# %%
gw.apply("""
apiVersion: gateway.kgateway.dev/v1alpha1
kind: TrafficPolicy
metadata:
  name: apikey-auth
  namespace: kgateway-system
spec:
  targetRefs:
  - group: gateway.networking.k8s.io
    kind: Gateway
    name: http
  apiKeyAuth:
    secretRef:
      name: apikey
    keySources:
    - header: X-API-KEY
""")
r = gw.request(headers={"x-api-key": GUIDE_KEY}, expect=200)
assert "x-api-key" not in r.upstream_headers()
display(r)
display(gw.request(headers=KEY, expect=401))

# %% [markdown]
# ### Multiple key sources
# The guide's example: a header, a query parameter and a cookie. Each one alone works.

# %%
MULTI = """
apiVersion: gateway.kgateway.dev/v1alpha1
kind: TrafficPolicy
metadata:
  name: apikey-auth
  namespace: kgateway-system
spec:
  targetRefs:
  - group: gateway.networking.k8s.io
    kind: Gateway
    name: http
  apiKeyAuth:
    secretRef:
      name: apikey
    keySources:
    - header: X-API-KEY
    - query: api_key
    - cookie: auth_token
"""
gw.apply(MULTI)
display(gw.request(headers={"X-API-KEY": GUIDE_KEY}, expect=200))
display(gw.request("GET", "/anything", query={"api_key": GUIDE_KEY}, expect=200))
display(gw.request(cookies={"auth_token": GUIDE_KEY}, expect=200))

# %% [markdown]
# Unless `forwardCredential` is set, the key is removed from **every** configured source before the request goes
# upstream, even sources that were not used. The other cookies are kept, in one `Cookie` line that Envoy rebuilds
# (quotes around a value removed, pieces without `=` dropped); the other query parameters are kept too, but not as
# sent (next cell).

# %%
r = gw.request(
    "GET",
    "/anything",
    headers={"X-API-KEY": GUIDE_KEY},
    query=[("page", "2"), ("api_key", "something-else"), ("sort", "asc")],
    cookies=[("theme", "dark"), ("auth_token", "something-else"), ("lang", '"en"')],
    expect=200,
)
assert "x-api-key" not in r.upstream_headers()
assert r.upstream_args() == {"page": "2", "sort": "asc"}, r.upstream_args()
assert r.upstream_headers()["cookie"] == "theme=dark; lang=en", r.upstream_headers()
display(r)

# %% [markdown]
# **The query is rebuilt.** To remove a query-source key, Envoy parses the whole query into a map sorted by name and
# writes it back with the values decoded, on every allowed request, even when the key came from the header: the
# parameters arrive sorted, `%26` arrives as a bare `&` (which splits the value), and `%2B` as a `+` (which the
# upstream reads as a space). Nothing comes back encoded. httpbin's `url` shows the query exactly as it arrived.

# %%
r = gw.request("GET", "/anything?sort=asc&page=2&q=a%26b&plus=%2B", headers={"X-API-KEY": GUIDE_KEY}, expect=200)
assert r.upstream_query() == "page=2&plus=+&q=a&b&sort=asc", r.upstream_query()
assert r.upstream_args() == {"page": "2", "plus": " ", "q": "a", "b": "", "sort": "asc"}, r.upstream_args()
display(r)

# %% [markdown]
# **Erratum 1: the order rule.** The guide says "header key sources take precedence over query parameter, query over
# cookie". Envoy does not rank source *types*: it tries the sources **in list order**, and the first one that
# yields a non-empty value decides; a present-but-wrong key is **not** rescued by a later source.
#
# With the guide's list (header first) both rules agree, so we reverse the list: query first, then header.
# A wrong key in the query and the right one in the header: the guide's rule predicts 200 (header wins), the real
# rule gives 401 (the query comes first in the list and its key is wrong).

# %%
HEADER_THEN_QUERY = "    - header: X-API-KEY\n    - query: api_key\n"
REVERSED = MULTI.replace(HEADER_THEN_QUERY, "    - query: api_key\n    - header: X-API-KEY\n")
assert REVERSED != MULTI
gw.apply(REVERSED)
r = gw.request("GET", "/anything", query={"api_key": "wrong"}, headers={"X-API-KEY": GUIDE_KEY}, expect=401)
display(r)
r = gw.request("GET", "/anything", query={"api_key": GUIDE_KEY}, headers={"X-API-KEY": "wrong"}, expect=200)
display(r)

# %% [markdown]
# The same list order holds with the guide's own list: a wrong header key is not rescued by a right cookie.
#
# A second part of erratum 1: **one** `keySources` item with several fields uses only its first set field
# (header, else query, else cookie). With `- {header: X-API-KEY, query: api_key}` the query parameter is never read.

# %%
gw.apply(MULTI)
display(gw.request(headers={"X-API-KEY": "wrong"}, cookies={"auth_token": GUIDE_KEY}, expect=401))
gw.apply(MULTI.replace("    - query: api_key\n    - cookie: auth_token\n", "      query: api_key\n"))
display(gw.request("GET", "/anything", query={"api_key": GUIDE_KEY}, expect=401))
display(gw.request(headers={"X-API-KEY": GUIDE_KEY}, expect=200))

# %% [markdown]
# ### Forward client ID header
# `clientIdHeader: x-client-id` sets that header for the upstream to the **client id, which is the Secret entry's
# name** (`api-key`, erratum 2), overwriting any value the client sent itself. Envoy sets it *before* it removes the
# credential from every source: a `clientIdHeader` that is also a key source header reaches the upstream as neither.

# %%
gw.apply("""
apiVersion: gateway.kgateway.dev/v1alpha1
kind: TrafficPolicy
metadata:
  name: apikey-auth
  namespace: kgateway-system
spec:
  targetRefs:
  - group: gateway.networking.k8s.io
    kind: Gateway
    name: http
  apiKeyAuth:
    secretRef:
      name: apikey
    clientIdHeader: x-client-id
""")
r = gw.request(headers={**KEY, "x-client-id": "admin"}, expect=200)
assert r.upstream_headers()["x-client-id"] == "api-key", r.upstream_headers()
display(r)

# %% [markdown]
# ### Forward credential to upstream
# `forwardCredential: true` keeps the key in the upstream request. (The view shows it redacted; the assertion checks
# the real value.)

# %%
gw.apply("""
apiVersion: gateway.kgateway.dev/v1alpha1
kind: TrafficPolicy
metadata:
  name: apikey-auth
  namespace: kgateway-system
spec:
  targetRefs:
  - group: gateway.networking.k8s.io
    kind: Gateway
    name: http
  apiKeyAuth:
    secretRef:
      name: apikey
    forwardCredential: true
""")
r = gw.request(headers=KEY, expect=200)
assert r.upstream_headers()["api-key"] == f"Bearer {GUIDE_KEY}"
display(r)

# %% [markdown]
# ### Disable API key auth
# `disable: {}` on HTTPRoute `httpbin` switches auth off for that route under the Gateway-wide policy. The most
# specific attachment wins whole (route over Gateway). To show that the Gateway-wide policy still guards the others,
# a second route `httpbin-secure` serves `secure.example.com`.

# %%
gw.apply(POLICY)
SECURE_ROUTE = """
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: httpbin-secure
  namespace: kgateway-system
spec:
  parentRefs:
  - name: http
  hostnames:
  - secure.example.com
  rules:
  - backendRefs:
    - name: httpbin
      port: 8000
"""
DISABLE = """
apiVersion: gateway.kgateway.dev/v1alpha1
kind: TrafficPolicy
metadata:
  name: apikey-auth-disable
  namespace: kgateway-system
spec:
  targetRefs:
  - group: gateway.networking.k8s.io
    kind: HTTPRoute
    name: httpbin
  apiKeyAuth:
    disable: {}
"""
gw.apply(SECURE_ROUTE)
display(gw.request(host="www.example.com", expect=401))
display(gw.apply(DISABLE))
assert gw.status("TrafficPolicy", "kgateway-system", "apikey-auth-disable").accepted
display(gw.request(host="www.example.com", expect=200))
display(gw.request(host="secure.example.com", expect=401))
gw.request(host="secure.example.com", headers=KEY, expect=200)

# %% [markdown]
# ## Done
# Remove everything and stop the gateway (on the reference target this also stops its httpbin).

# %%
display(gw.delete("---".join([DISABLE, SECURE_ROUTE, POLICY, SECRET])))
gw.close()
