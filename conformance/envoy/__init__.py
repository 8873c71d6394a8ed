"""kgateway's data plane without the cluster: resources -> Envoy xDS files, a managed Envoy, its admin API."""

from conformance.envoy.translate import EnvoyConfig, translate

__all__ = ["EnvoyConfig", "translate"]
