"""The profiles' base manifests: each guide's Gateway and the httpbin HTTPRoute."""
