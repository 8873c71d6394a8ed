"""The real control plane on this machine: Go binaries built from their modules, a kube-apiserver with etcd, the
implementations' controllers, and Envoy (used by conformance/targets/local.py)."""
