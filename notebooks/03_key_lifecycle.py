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
# # API key lifecycle at the gateway
#
# The system-design guide *API key management in microservices* lists what managing keys takes: **issue** a unique
# key per client, **validate** it on every request at the gateway, **rotate** keys without disruption, **revoke**
# a compromised key, and **monitor** usage per client. This notebook does each of those for real with kgateway's
# `TrafficPolicy` on the reference gateway, then takes the guide's Flask example and protects the *unprotected*
# app with the gateway instead of with code in the app.
#
# Keys are generated here and never shown: every output goes through the project's redactor.

# %%
import logging
import threading
from collections import Counter

import requests
from flask import Flask, jsonify, request
from IPython.display import display
from werkzeug.serving import make_server

from conformance.notebook import Playground, register_keys, show_yaml
from reference_impl.keygen import generate_key, issue_keys, secret_manifest

# %% tags=["parameters"]
TARGET = "reference"  # reference | envoy | kind | cluster (kgateway profile)
TARGET_OPTIONS = {}

# %% [markdown]
# ## The guide's Flask app, without its key check
# The guide's "before" app, plus a record of the headers each request brought, so that we can see later what the
# app receives. It is served by a real WSGI server (werkzeug) on an ephemeral port of 127.0.0.1, in a thread.
# The gateway will reach it as the Service `flask-app`.

# %%
app = Flask("data-api")
SEEN: list[dict[str, str]] = []  # the headers of every request the app received


@app.route("/data")
def data():
    SEEN.append(dict(request.headers))
    return {"message": "Public data", "caller": request.headers.get("X-Client-Id")}


@app.route("/seen")
def seen():
    return jsonify(SEEN)


logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log lines in the notebook
flask_server = make_server("127.0.0.1", 0, app, threaded=True)
threading.Thread(target=flask_server.serve_forever, name="flask-app", daemon=True).start()
FLASK_URL = f"http://127.0.0.1:{flask_server.server_port}"
print(f"$ curl -i {FLASK_URL}/data")
direct = requests.get(f"{FLASK_URL}/data", timeout=5)
assert direct.status_code == 200 and direct.json()["message"] == "Public data"
print(direct.status_code, direct.json(), "- anyone who can reach the app gets the data")
SEEN.clear()

# %% [markdown]
# ## The gateway
# The reference gateway (or `TARGET`) with the kgateway Gateway `http` and the httpbin route. The Flask app is
# mapped in as `flask-app` where the target can reach local services (reference and envoy).

# %%
CAN_REACH_FLASK = TARGET in ("reference", "envoy")
gw = Playground.for_target(
    TARGET, TARGET_OPTIONS, profile="kgateway", backends={"flask-app": FLASK_URL} if CAN_REACH_FLASK else None
)
display(gw)
gw.apply(gw.base_manifests())
NS = "kgateway-system"
CALLS: Counter[str] = Counter()  # our own tally of allowed requests per client, to check the gateway's counters


def call(key: str | None, expect: int, client: str | None = None, **kwargs):
    """A request through the gateway with `key` in the api-key header, counted for `client` when allowed."""
    headers = {"api-key": key} if key else {}
    response = gw.request("GET", "/headers", headers=headers, expect=expect, **kwargs)
    if expect == 200 and client:
        CALLS[client] += 1
    return response


# %% [markdown]
# ## Issue: one strong key per client
# `reference_impl.keygen.generate_key()` draws 32 random bytes (256 bits) from `secrets` and encodes them URL-safe,
# so a key can go in a header, a query parameter or a cookie unchanged. `issue_keys` gives each client its own.
# We register them with the redactor before anything could print them.

# %%
CLIENTS = ["mobile-app", "partner-acme", "billing-service"]
keys = issue_keys(CLIENTS)
register_keys(keys)
for client, key in keys.items():
    print(f"{client:16} key of {len(key)} characters, {len(set(key))} distinct symbols")
assert len(set(keys.values())) == len(CLIENTS)
assert all(len(k) >= 43 for k in keys.values())

# %% [markdown]
# One Secret per client, all carrying the label `api-keys: v1`; kgateway uses each Secret entry's **name** as the
# client id, so the entry is named after the client. A policy on the whole Gateway selects the Secrets by label and
# passes the client id to the upstream in `x-client-id`.

# %%
SECRETS = {
    client: secret_manifest(f"apikey-{client}", NS, {client: key}, labels={"api-keys": "v1"})
    for client, key in keys.items()
}
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
    secretSelector:
      matchLabels:
        api-keys: v1
    clientIdHeader: x-client-id
"""
display(gw.apply(list(SECRETS.values())))
display(gw.apply(POLICY))
assert gw.status("TrafficPolicy", NS, "apikey-auth").accepted

# %% [markdown]
# ## Validate: every request, every client

# %%
for client, key in keys.items():
    r = call(key, 200, client)
    assert r.upstream_headers()["x-client-id"] == client
    assert "api-key" not in r.upstream_headers()
display(r)
display(call(None, 401))
display(call("a-guessed-key", 401))

# %% [markdown]
# ## Rotate with overlap
# `partner-acme` gets a new key. To rotate without breaking the partner, the new key is **added** first (a second
# Secret with the same label and the same entry name, so the client id stays `partner-acme`): during the overlap both
# keys work. Once the partner has switched, the old Secret is deleted and only the new key works.

# %%
new_acme_key = generate_key()
register_keys([new_acme_key])
NEXT = secret_manifest("apikey-partner-acme-next", NS, {"partner-acme": new_acme_key}, labels={"api-keys": "v1"})
display(gw.apply(NEXT))
r_old = call(keys["partner-acme"], 200, "partner-acme")
r_new = call(new_acme_key, 200, "partner-acme")
assert r_old.upstream_headers()["x-client-id"] == r_new.upstream_headers()["x-client-id"] == "partner-acme"
print("overlap: the old and the new key are both valid")
display(r_new)

# %%
display(gw.delete(SECRETS["partner-acme"]))
display(call(keys["partner-acme"], 401))
display(call(new_acme_key, 200, "partner-acme"))
assert gw.status("TrafficPolicy", NS, "apikey-auth").accepted

# %% [markdown]
# ## Revoke
# `billing-service`'s key leaked: delete its Secret. The key stops working within the consistency window (at once on
# the reference gateway); the other clients are not affected.

# %%
display(gw.delete(SECRETS["billing-service"]))
display(call(keys["billing-service"], 401))
call(keys["mobile-app"], 200, "mobile-app")
call(new_acme_key, 200, "partner-acme")

# %% [markdown]
# ## Monitor: usage per client
# The reference gateway counts allowed and denied requests per policy and client on its admin endpoint (never the
# key: only the Secret entry name, or `<missing>` / `<invalid>` for denials). The counts must match the requests we
# made, exactly: on the reference gateway every `expect=` is satisfied by a single request.

# %%
if gw.is_reference:
    stats = gw.stats()
    display(stats)
    policy = f"TrafficPolicy {NS}/apikey-auth"
    for client in CLIENTS:
        assert stats.allowed(client, policy) == CALLS[client], (client, stats.counts(client, policy), CALLS[client])
    assert stats.denied("<missing>", policy) == 1
    assert stats.denied("<invalid>", policy) == 3  # a random key, the rotated-out key, the revoked key
else:
    display(gw.stats() if TARGET == "envoy" else "per-client counters: reference gateway only")

# %% [markdown]
# ## The guide's Flask example, protected by the gateway
# The guide's "after" code puts the check in the app: a decorator reads `X-API-Key`, looks it up in a set of raw
# keys and aborts with 401. Here the app stays as it was ("before"), and the gateway does the check on a route of
# its own, reading the same `X-API-Key` header:
#
# **Erratum 5.** The guide's check is set membership on the raw value; the reference gateway (like agentgateway)
# looks keys up by their SHA-256 digest with a constant-time comparison, and keeps no raw key in its index.

# %%
ROUTE_AND_POLICY = """
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: data-api
  namespace: kgateway-system
spec:
  parentRefs:
  - name: http
  hostnames:
  - api.example.com
  rules:
  - backendRefs:
    - name: flask-app
      port: 5000
---
apiVersion: gateway.kgateway.dev/v1alpha1
kind: TrafficPolicy
metadata:
  name: data-api-auth
  namespace: kgateway-system
spec:
  targetRefs:
  - group: gateway.networking.k8s.io
    kind: HTTPRoute
    name: data-api
  apiKeyAuth:
    secretSelector:
      matchLabels:
        api-keys: v1
    keySources:
    - header: X-API-Key
    clientIdHeader: X-Client-Id
"""
if CAN_REACH_FLASK:
    front = gw
else:  # a cluster cannot reach a server in this kernel: use the embedded reference gateway for this part
    print(f"target {TARGET} cannot reach {FLASK_URL}; this part runs on the embedded reference gateway")
    front = Playground.start(profile="kgateway", backends={"flask-app": FLASK_URL})
    front.apply(front.base_manifests())
    front.apply([m for m in [*SECRETS.values(), NEXT] if m["metadata"]["name"] != "apikey-partner-acme"])
display(front.apply(ROUTE_AND_POLICY))
assert front.status("TrafficPolicy", NS, "data-api-auth").accepted

# %% [markdown]
# Without a key: 401 from the gateway; the app is not even called. (The guide's app would answer
# `401 Invalid or missing API key` in an HTML page; the gateway's body is `Client authentication failed.`)

# %%
SEEN.clear()
r = front.request("GET", "/data", host="api.example.com", expect=401)
assert r.body == "Client authentication failed."
assert SEEN == [], "the app must not be called without a valid key"
display(r)

# %% [markdown]
# With a key in `X-API-Key`: 200, and the app learns **who** called from `X-Client-Id`, without ever seeing a key.

# %%
r = front.request("GET", "/data", host="api.example.com", headers={"X-API-Key": keys["mobile-app"]}, expect=200)
assert r.json() == {"message": "Public data", "caller": "mobile-app"}, r.body
display(r)
assert len(SEEN) >= 1
received = SEEN[-1]
assert "X-Api-Key" not in received and all(k.lower() != "x-api-key" for k in received), received
every_key = [*keys.values(), new_acme_key]
assert not any(key in value for key in every_key for value in received.values()), "the app saw a key"
show_yaml({"headers the app received": received})

# %% [markdown]
# A client that tries to pass itself off as another one by sending its own `X-Client-Id` gets it overwritten.

# %%
r = front.request(
    "GET",
    "/data",
    host="api.example.com",
    headers={"X-API-Key": new_acme_key, "X-Client-Id": "billing-service"},
    expect=200,
)
assert r.json()["caller"] == "partner-acme"
display(r)

# %% [markdown]
# ## Done

# %%
if front is not gw:
    front.close()
gw.close()
flask_server.shutdown()
