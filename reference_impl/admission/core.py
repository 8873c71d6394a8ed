"""Core v1 Secret and ConfigMap: no CRD, so their admission rules are written here from the Kubernetes API
reference (ValidateSecret, ValidateConfigMap): entry names, base64 `data`, `stringData` merged into `data`,
the 1 MiB size limit and the keys some Secret types require. No message ever contains an entry's value."""

from __future__ import annotations

import base64
from typing import Any

from reference_impl.admission import fielderrors as fe
from reference_impl.admission.meta import admit_metadata, config_key_errors, decode_error
from reference_impl.errors import FieldError

MAX_SIZE = 1024 * 1024  # core.MaxSecretSize, also the ConfigMap limit
SECRET_FIELDS = frozenset({"apiVersion", "kind", "metadata", "data", "stringData", "type", "immutable"})
CONFIG_MAP_FIELDS = frozenset({"apiVersion", "kind", "metadata", "data", "binaryData", "immutable"})
_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
_NEWLINES = "\r\n"
# Keys a Secret of these types must have (data[<key>]: Required value); basic-auth needs either of its two, and
# without both the API server names both.
REQUIRED_KEYS = {
    "kubernetes.io/tls": (("tls.crt",), ("tls.key",)),
    "kubernetes.io/ssh-auth": (("ssh-privatekey",),),
    "kubernetes.io/dockercfg": ((".dockercfg",),),
    "kubernetes.io/dockerconfigjson": ((".dockerconfigjson",),),
    "kubernetes.io/basic-auth": (("username", "password"),),
}


def base64_error_offset(text: str) -> int | None:
    """Where Go's standard base64 decoder gives up on `text` (`illegal base64 data at input byte N`), or None.
    Line breaks are skipped anywhere, as Go skips them."""
    i, size = 0, len(text)
    while True:
        taken = 0
        while taken < 4:
            if i == size:
                return None if taken == 0 else i - taken
            char = text[i]
            i += 1
            if char in _NEWLINES:
                continue
            if char in _ALPHABET:
                taken += 1
                continue
            if char != "=" or taken < 2:
                return i - 1
            if taken == 2:  # a second '=' must follow
                while i < size and text[i] in _NEWLINES:
                    i += 1
                if i == size:
                    return size
                if text[i] != "=":
                    return i - 1
                i += 1
            while i < size and text[i] in _NEWLINES:
                i += 1
            return None if i == size else i


def _decoded(text: str) -> bytes:
    return base64.b64decode("".join(c for c in text if c not in _NEWLINES))


def _entries(value: Any, field: str, owner: str, *, encoded: bool) -> tuple[dict[str, bytes], list[FieldError]]:
    """Entries of a `data`-like map as bytes, or decode errors naming the entry (never its value)."""
    if value is None:
        return {}, []
    if not isinstance(value, dict):
        return {}, [decode_error(field, "map[string][]uint8" if encoded else "map[string]string", value, owner)]
    entries, errors = {}, []
    for name, item in value.items():
        if not isinstance(item, str):
            errors.append(decode_error(field, "[]uint8" if encoded else "string", item, owner))
        elif not encoded:
            entries[name] = item.encode()
        elif (offset := base64_error_offset(item)) is not None:
            errors.append(fe.decoding(fe.key(field, name), f"illegal base64 data at input byte {offset}"))
        else:
            entries[name] = _decoded(item)
    return entries, errors


def _key_errors(entries: dict[str, bytes], field: str) -> list[FieldError]:
    return [fe.invalid(fe.key(field, name), name, e) for name in entries for e in config_key_errors(name)]


def _typed(document: dict[str, Any], name: str, expected: type, go_type: str, owner: str) -> list[FieldError]:
    value = document.get(name)
    return [] if value is None or isinstance(value, expected) else [decode_error(name, go_type, value, owner)]


def admit_secret(document: dict[str, Any]) -> tuple[dict[str, Any], list[str], list[FieldError]]:
    """(the Secret as stored: `stringData` merged into base64 `data`, `type` defaulted; unknown fields; errors)."""
    meta, unknown, errors = admit_metadata(document, "Secret", core=True)
    unknown += [name for name in document if name not in SECRET_FIELDS]
    data, data_errors = _entries(document.get("data"), "data", "Secret", encoded=True)
    plain, plain_errors = _entries(document.get("stringData"), "stringData", "Secret", encoded=False)
    errors += data_errors + plain_errors
    errors += _typed(document, "type", str, "v1.SecretType", "Secret")
    errors += _typed(document, "immutable", bool, "bool", "Secret")
    data.update(plain)  # the API server's conversion: stringData wins over data
    errors += _key_errors(data, "data")
    if sum(len(v) for v in data.values()) > MAX_SIZE:
        errors.append(fe.too_long("data", MAX_SIZE))
    secret_type = document.get("type") or "Opaque"
    for alternatives in REQUIRED_KEYS.get(secret_type, ()) if isinstance(secret_type, str) else ():
        if not any(k in data for k in alternatives):
            errors += [fe.required(fe.key("data", k)) for k in alternatives]
    if secret_type == "kubernetes.io/service-account-token" and not (meta.get("annotations") or {}).get(
        "kubernetes.io/service-account.name"
    ):
        errors.append(fe.required("metadata.annotations[kubernetes.io/service-account.name]"))
    stored = {k: v for k, v in document.items() if k not in ("stringData", "data", "metadata")}
    stored.update(metadata=meta, type=secret_type)
    if data:
        stored["data"] = {k: base64.b64encode(v).decode("ascii") for k, v in data.items()}
    return stored, unknown, errors


def admit_config_map(document: dict[str, Any]) -> tuple[dict[str, Any], list[str], list[FieldError]]:
    meta, unknown, errors = admit_metadata(document, "ConfigMap", core=True)
    unknown += [name for name in document if name not in CONFIG_MAP_FIELDS]
    data, data_errors = _entries(document.get("data"), "data", "ConfigMap", encoded=False)
    binary, binary_errors = _entries(document.get("binaryData"), "binaryData", "ConfigMap", encoded=True)
    errors += data_errors + binary_errors + _typed(document, "immutable", bool, "bool", "ConfigMap")
    errors += _key_errors(data, "data") + _key_errors(binary, "binaryData")
    errors += [fe.invalid(fe.key("data", k), k, "duplicate of key present in binaryData") for k in data if k in binary]
    if sum(len(v) for v in (*data.values(), *binary.values())) > MAX_SIZE:
        errors.append(fe.too_long(fe.ROOT, MAX_SIZE))
    stored = dict(document)
    stored["metadata"] = meta
    return stored, unknown, errors
