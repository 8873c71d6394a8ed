"""pytest-bdd step definitions, in the user's words: apply this YAML, send this request, expect this."""
