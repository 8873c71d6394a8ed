"""JSON schemas of what the harness publishes (the conformance report)."""
