"""Secret and ConfigMap admission, and the promise that no error ever shows an entry's value."""

from __future__ import annotations

import base64

import pytest
from builders import secret

from reference_impl.admission import AdmissionError, admit
from reference_impl.admission.core import base64_error_offset

VALUE = "s3cr3t-Value-that-must-not-leak"
ENCODED = base64.b64encode(VALUE.encode()).decode()


def rejected(document: dict) -> AdmissionError:
    with pytest.raises(AdmissionError) as caught:
        admit(document)
    return caught.value


def test_string_data_is_merged_into_data_and_type_defaulted():
    admitted = admit(secret(data={"a": ENCODED, "b": base64.b64encode(b"old").decode()}, stringData={"b": "new"}))
    assert admitted["data"] == {"a": ENCODED, "b": base64.b64encode(b"new").decode()}
    assert "stringData" not in admitted and admitted["type"] == "Opaque"


@pytest.mark.parametrize(
    ("text", "offset"),
    [
        ("YWJj", None),
        ("YWI=", None),
        ("YQ==", None),
        ("YW\nJj\n", None),
        ("YWJ", 0),
        ("YWJjZA", 4),
        ("YW!j", 2),
        ("Y===", 1),
        ("YQ=x", 2),
        ("YQ==YQ==", 4),
        ("", None),
    ],
)
def test_base64_offsets_follow_go(text, offset):
    assert base64_error_offset(text) == offset


def test_secret_rules_name_the_entry():
    error = rejected(secret(data={"k": VALUE}))
    assert str(error) == (
        f'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte {VALUE.index("-")}'
    )
    assert [e.path for e in error.errors] == ["data[k]"]
    error = rejected(secret(stringData={"bad key": VALUE}))
    assert str(error).startswith(
        'Secret "keys" is invalid: data[bad key]: Invalid value: "bad key": a valid config key'
    )
    assert str(rejected(secret(stringData={"k": 5}))) == (
        'Secret in version "v1" cannot be handled as a Secret: '
        "json: cannot unmarshal number into Go struct field Secret.stringData of type string"
    )
    assert str(rejected(secret(type="kubernetes.io/tls", stringData={"tls.crt": VALUE}))) == (
        'Secret "keys" is invalid: data[tls.key]: Required value'
    )
    assert str(rejected(secret(data={}, extra=VALUE))) == (
        'Secret in version "v1" cannot be handled as a Secret: strict decoding error: unknown field "extra"'
    )
    big = {f"k{i}": "x" * 300_000 for i in range(4)}
    assert (
        str(rejected(secret(stringData=big)))
        == 'Secret "keys" is invalid: data: Too long: may not be more than 1048576 bytes'
    )


def test_config_map_rules():
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "hashes"}}
    assert admit(config_map | {"data": {"alice": "{}"}})["metadata"]["namespace"] == "default"
    error = rejected(config_map | {"data": {"a": "1"}, "binaryData": {"a": "MQ=="}})
    assert (
        str(error)
        == 'ConfigMap "hashes" is invalid: data[a]: Invalid value: "a": duplicate of key present in binaryData'
    )
    assert str(rejected(config_map | {"binaryData": {"a": "*"}})) == (
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: illegal base64 data at input byte 0'
    )


BROKEN = [
    {"data": {"k": VALUE}},  # not base64 (the value reaches the decoder as is)
    {"data": {"k": ENCODED + "*"}},
    {"data": {"bad key!": ENCODED}},
    {"stringData": {"bad key!": VALUE}},
    {"stringData": {"k": [VALUE]}},
    {"data": {"k": {"nested": VALUE}}},
    {"data": VALUE},
    {"stringData": VALUE},
    {"type": "kubernetes.io/basic-auth", "stringData": {"token": VALUE}},
    {"stringData": {"k": VALUE}, "metadata": {"name": "Bad Name", "labels": {"k": VALUE}}},
    {"stringData": {"k": VALUE}, "unknown": VALUE},
]


@pytest.mark.parametrize("fields", BROKEN)
def test_a_secret_value_never_appears_in_an_error(fields):
    document = secret() | fields
    error = rejected(document)
    for text in (str(error), repr(error), *(str(e) for e in error.errors), *(e.path for e in error.errors)):
        assert VALUE not in text and ENCODED not in text
