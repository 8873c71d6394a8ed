"""Binds every Gherkin scenario in features/ to a pytest test (collected by `pytest --pyargs conformance.suite`)."""

from pytest_bdd import scenarios

from conformance.suite import features_dir

scenarios(str(features_dir()))
