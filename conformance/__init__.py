"""Conformance harness for API key auth policies: pytest plugin, pytest-bdd steps, targets and reports."""
