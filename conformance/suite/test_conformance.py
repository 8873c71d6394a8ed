"""Binds every Gherkin scenario in features/ to a pytest test (collected by `pytest --pyargs conformance.suite`)."""

from conformance.scenarios import bind
from conformance.suite import features_dir

bind(globals(), features_dir())
