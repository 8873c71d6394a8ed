"""Manifests shared by the envoy target's tests (the guide's Gateway, route, Secret and policy)."""

from __future__ import annotations

from typing import Any

import yaml

from reference_impl.compile.inventory import Inventory
from reference_impl.resources import load_manifests, resource_key

GUIDE_KEY = "N2YwMDIxZTEtNGUzNS1jNzgzLTRkYjAtYjE2YzRkZGVmNjcy"

BASE = """
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: http, namespace: default}
spec:
  gatewayClassName: kgateway
  listeners: [{name: http, port: 8080, protocol: HTTP}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: httpbin, namespace: default}
spec:
  parentRefs: [{name: http}]
  hostnames: [www.example.com]
  rules:
  - name: main
    backendRefs: [{name: httpbin, port: 8000}]
  - name: status
    matches: [{path: {type: PathPrefix, value: /status}}]
    backendRefs: [{name: httpbin, port: 8000}]
"""

GUIDE_SECRET = f"""
apiVersion: v1
kind: Secret
metadata: {{name: apikey, namespace: default}}
stringData: {{api-key: {GUIDE_KEY}}}
"""


def policy(name: str, target: str, api_key_auth: str, *, section: str | None = None, kind: str = "Gateway") -> str:
    section_field = f", sectionName: {section}" if section else ""
    return f"""
apiVersion: gateway.kgateway.dev/v1alpha1
kind: TrafficPolicy
metadata: {{name: {name}, namespace: default}}
spec:
  targetRefs: [{{group: gateway.networking.k8s.io, kind: {kind}, name: {target}{section_field}}}]
  apiKeyAuth: {api_key_auth}
"""


GATEWAY_POLICY = policy("apikey-auth", "http", "{secretRef: {name: apikey}}")


def docs(*texts: str) -> list[dict[str, Any]]:
    return [d for text in texts for d in yaml.safe_load_all(text) if d]


def inventory(*texts: str) -> Inventory:
    resources = [r for text in texts for r in load_manifests(text)]
    created = {resource_key(r): i for i, r in enumerate(resources)}
    return Inventory.of(resources, created)
