"""The catalog of offerings: one YAML file per offering, loaded into typed models.

Offerings are data. Everything that differs between PostgreSQL, Valkey and MinIO (image,
ports, environment, secrets to generate, probes, security context, scripts, scaling rules,
connection URI) lives in `offerings/<slug>.yaml`; adding an offering never needs code.

Templates
---------
A few fields (container `command`/`args`/`replica_args`, init container `command`/`args`/
`env` values, lifecycle hook commands) are templates: Python `str.format` placeholders from
a fixed set, substituted by `render`:

    {service_id}        the service id (`orders-x1y2z`)
    {namespace}         the project's namespace
    {primary_host}      instance 0 through the headless Service (`orders-x1y2z-0.orders-x1y2z-hl`)
    {headless_service}  the headless Service's name
    {port}              the offering's client port

No format specs, conversions or attribute access; a literal brace is written `{{` / `}}`.
Files (scripts, configs) are NOT templates: they read what they need from the environment.

Load-time checks that span several fields (exactly one client port, probes naming existing
ports, ...) are in `check_offering`, which the loader runs after the model validates.
"""

from __future__ import annotations

import functools
import importlib.resources
import os
import re
import string
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from . import quantities
from .errors import CatalogError, FieldError, InvalidInput

ENV_VAR = "MANAGED_SERVICES_OFFERINGS"
TEMPLATE_FIELDS = frozenset({"service_id", "namespace", "primary_host", "headless_service", "port"})
URI_FIELDS = frozenset({"username", "password", "host", "port", "database"})

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_CONFIGMAP_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
# A ConfigMap holds at most 1 MiB; keep well under it.
_MAX_FILES_BYTES = 512 * 1024


def _template_names(text: str, allowed: frozenset[str]) -> set[str]:
    names: set[str] = set()
    for _, name, spec, conversion in string.Formatter().parse(text):
        if name is None:
            continue
        if name not in allowed or spec or conversion:
            raise ValueError(
                f"placeholder {{{name}{'!' + conversion if conversion else ''}{':' + spec if spec else ''}}} "
                f"is not one of {', '.join('{' + n + '}' for n in sorted(allowed))} "
                "(write a literal brace as {{ or }})"
            )
        names.add(name)
    return names


def _check_template(text: str) -> str:
    _template_names(text, TEMPLATE_FIELDS)
    return text


def _check_pattern(pattern: str, what: str) -> Any:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.match(value):
            raise ValueError(f"{value!r} is not {what}")
        return value

    return AfterValidator(check)


def _check_regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"is not a valid regular expression: {exc}") from exc
    return value


def _check_storage(value: str) -> str:
    quantities.parse_storage(value)
    return value


def _check_cpu(value: str) -> str:
    if quantities.parse_cpu(value) <= 0:
        raise ValueError("must be more than 0")
    return value


def _check_memory(value: str) -> str:
    quantities.parse_memory(value)
    return value


def _check_image(value: str) -> str:
    # A pinned image: an explicit tag other than `latest`, or a digest.
    if "@sha256:" in value:
        return value
    _, _, tag = value.rpartition(":")
    if "/" in tag or not tag or tag == "latest" or ":" not in value:
        raise ValueError(f"{value!r} is not pinned: give an explicit version tag (not latest) or a digest")
    return value


Template = Annotated[str, AfterValidator(_check_template)]
EnvName = Annotated[str, _check_pattern(ENV_NAME.pattern, "an environment variable name")]
DnsLabel = Annotated[str, _check_pattern(_DNS_LABEL.pattern, "a lowercase DNS label"), Field(max_length=63)]
AbsPath = Annotated[str, _check_pattern(r"^/[^\0]*$", "an absolute path")]
StorageSize = Annotated[str, AfterValidator(_check_storage)]
Cpu = Annotated[str, AfterValidator(_check_cpu)]
Memory = Annotated[str, AfterValidator(_check_memory)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class Port(_Model):
    """A container port, exposed by every Service of the offering."""

    name: Annotated[str, _check_pattern(_DNS_LABEL.pattern, "a lowercase port name"), Field(max_length=15)]
    port: int = Field(ge=1, le=65535)
    client: bool = False
    """The port clients connect to (exactly one); used in the URI and `{port}`."""


class Storage(_Model):
    """The per-instance persistent volume."""

    mount_path: AbsPath
    default_size: StorageSize
    min_size: StorageSize = "1Gi"
    max_size: StorageSize = "16Ti"


class GeneratedSecret(_Model):
    """An env var the engine fills with a random value at create, and keeps on update."""

    name: EnvName
    length: int = Field(ge=16, le=128)
    alphabet: Literal["alphanumeric", "lower-alphanumeric"] = "alphanumeric"
    """Alphanumerics only: safe unquoted in URIs, shells, config files and command lines."""
    min_length: int = Field(default=8, ge=1)
    """Shortest value a user may set as an override."""


class EnvRule(_Model):
    """A constraint on a user-supplied env value."""

    pattern: Annotated[str, AfterValidator(_check_regex)]
    """Python regex the whole value must match (`re.fullmatch`)."""
    hint: str
    """What the value must be, in words (`must be a lowercase PostgreSQL role name ...`)."""


class Env(_Model):
    """The container environment; all of it is stored in the service's Secret."""

    defaults: dict[EnvName, str] = {}
    protected: list[EnvName] = []
    """Keys a user may never set (the offering depends on their value, or on their absence)."""
    immutable: list[EnvName] = []
    """Keys whose value cannot change after create (the image reads them only at first init)."""
    secret: list[EnvName] = []
    """Keys whose values are masked on display."""
    generated: list[GeneratedSecret] = []
    rules: dict[EnvName, EnvRule] = {}


class HttpGet(_Model):
    path: Annotated[str, _check_pattern(r"^/", "an absolute URL path")]
    port: str
    """Name of one of the offering's ports."""


class Probe(_Model):
    """A Kubernetes probe: exactly one of `command` (exec) and `http_get`."""

    command: list[str] | None = None
    http_get: HttpGet | None = None
    initial_delay_seconds: int = Field(default=0, ge=0)
    period_seconds: int = Field(default=10, ge=1)
    timeout_seconds: int = Field(default=1, ge=1)
    failure_threshold: int = Field(default=3, ge=1)


class Probes(_Model):
    readiness: Probe
    liveness: Probe
    startup: Probe | None = None


class WritableDir(_Model):
    """An emptyDir mounted into every container, for paths that must be writable."""

    name: DnsLabel
    path: AbsPath
    medium: Literal["", "Memory"] = ""
    size_limit: Memory | None = None


class Security(_Model):
    """Identity and hardening; the rendered pod must pass the `restricted` Pod Security Standard."""

    run_as_user: int = Field(ge=1)
    run_as_group: int = Field(ge=1)
    fs_group: int = Field(ge=1)
    read_only_root_filesystem: bool = True
    writable_dirs: list[WritableDir] = []


class DefaultResources(_Model):
    cpu: Cpu
    memory: Memory


class ConnectionTemplate(_Model):
    """How clients connect; values come from the service's env."""

    username_env: EnvName | None = None
    password_env: EnvName | None = None
    database_env: EnvName | None = None
    uri: str
    """`str.format` template over {username}, {password}, {host}, {port}, {database} (quoted)."""


class Scaling(_Model):
    max_instances: int = Field(ge=1)
    replicas: Literal["read-replicas", "none"]
    """`read-replicas`: instance 0 is the primary, the others replicate from it."""
    limit_hint: str = ""
    """Added to the error when a user asks for more than max_instances."""


class File(_Model):
    """A file kept in the service's Secret, mounted into every container at `mount_dir/name`."""

    name: Annotated[str, _check_pattern(_CONFIGMAP_KEY.pattern, "a file name (letters, digits, -._)")]
    mount_dir: AbsPath
    executable: bool = False
    content: str


class InitContainer(_Model):
    """Runs before the server in every instance, with the same image, env, mounts and identity."""

    name: DnsLabel
    command: list[Template] = Field(min_length=1)
    args: list[Template] = []
    env: dict[EnvName, Template] = {}


class ExecHook(_Model):
    command: list[Template] = Field(min_length=1)


class Lifecycle(_Model):
    post_start: ExecHook | None = None
    pre_stop: ExecHook | None = None


class Offering(_Model):
    """One curated service. See offerings/*.yaml; `check_offering` holds the cross-field rules."""

    slug: DnsLabel
    """Matches the file name; also a label value."""
    display_name: str
    description: str
    notes: str = ""
    """Operational caveats shown to users (supply status, how rotation works, limits)."""
    image: Annotated[str, AfterValidator(_check_image)]
    container_name: DnsLabel
    ports: list[Port] = Field(min_length=1)
    command: list[Template] | None = None
    """Replaces the image entrypoint; None keeps it."""
    args: list[Template] = []
    replica_args: list[Template] = []
    """Appended to `args` on instances other than 0 (needs `command`, since render wraps it)."""
    storage: Storage
    env: Env = Env()
    probes: Probes
    security: Security
    termination_grace_period_seconds: int = Field(ge=0)
    resources: DefaultResources
    connection: ConnectionTemplate
    scaling: Scaling
    metrics: list[Literal["cpu_usage", "memory_usage"]] = []
    files: list[File] = []
    init_containers: list[InitContainer] = []
    lifecycle: Lifecycle = Lifecycle()

    @property
    def client_port(self) -> Port:
        """The port clients connect to."""
        return next(p for p in self.ports if p.client)

    @property
    def has_read_replicas(self) -> bool:
        """Whether instances beyond 0 replicate from it (and a read-only Service is rendered)."""
        return self.scaling.replicas == "read-replicas"

    @property
    def generated_names(self) -> frozenset[str]:
        """Env keys the engine generates random values for."""
        return frozenset(g.name for g in self.env.generated)

    def generated(self, key: str) -> GeneratedSecret | None:
        """The generated-secret rule of `key`, if the offering generates it."""
        return next((g for g in self.env.generated if g.name == key), None)

    def is_secret_env(self, key: str) -> bool:
        """Whether an env value must be masked when shown."""
        return key in self.env.secret


def check_offering(offering: Offering) -> list[FieldError]:
    """Rules that span fields of an offering, one FieldError per broken rule (field = dotted path)."""
    errors: list[FieldError] = []

    def add(field: str, message: str) -> None:
        errors.append(FieldError(field, message))

    clients = [p.name for p in offering.ports if p.client]
    if len(clients) != 1:
        add("ports", f"exactly one port must have client: true (found {len(clients)})")
    port_names = [p.name for p in offering.ports]
    if len(set(port_names)) != len(port_names) or len({p.port for p in offering.ports}) != len(port_names):
        add("ports", "port names and numbers must be unique")

    for kind in ("readiness", "liveness", "startup"):
        probe: Probe | None = getattr(offering.probes, kind)
        if probe is None:
            continue
        if (probe.command is None) == (probe.http_get is None):
            add(f"probes.{kind}", "set exactly one of command and http_get")
        if probe.http_get is not None and probe.http_get.port not in port_names:
            add(
                f"probes.{kind}.http_get.port",
                f"{probe.http_get.port!r} is not one of the ports {port_names}",
            )

    storage = offering.storage
    low, default, high = (
        quantities.parse_storage(s) for s in (storage.min_size, storage.default_size, storage.max_size)
    )
    if not low <= default <= high:
        add("storage.default_size", "must lie between min_size and max_size")

    env = offering.env
    known = set(env.defaults) | offering.generated_names
    generated = [g.name for g in env.generated]
    if len(set(generated)) != len(generated):
        add("env.generated", "names must be unique")
    for name in sorted(set(generated) & set(env.defaults)):
        add(f"env.generated.{name}", "is also in env.defaults; a generated secret has no default")
    for name in sorted(set(generated) & set(env.protected)):
        add(f"env.protected.{name}", "is generated; protect it or generate it, not both")
    for name in sorted(set(env.immutable) & set(env.protected)):
        add(f"env.immutable.{name}", "is protected, so it can never change anyway")

    conn = offering.connection
    try:
        used = _template_names(conn.uri, URI_FIELDS)
    except ValueError as exc:
        add("connection.uri", str(exc))
        used = set()
    for placeholder, key in (
        ("username", conn.username_env),
        ("password", conn.password_env),
        ("database", conn.database_env),
    ):
        if placeholder in used and key is None:
            add("connection.uri", f"uses {{{placeholder}}} but connection.{placeholder}_env is not set")
        if key is not None and key not in known:
            add(f"connection.{placeholder}_env", f"{key} has no default or generated value")

    if offering.scaling.replicas == "none" and offering.scaling.max_instances != 1:
        add("scaling.max_instances", "must be 1 when replicas is none")
    if offering.replica_args and offering.scaling.replicas != "read-replicas":
        add("replica_args", "only make sense with scaling.replicas: read-replicas")
    if offering.replica_args and offering.command is None:
        add(
            "command",
            "must be set when replica_args are (render wraps the command to pick args per instance)",
        )

    file_names = [f.name for f in offering.files]
    if len(set(file_names)) != len(file_names):
        add("files", "file names must be unique (they share the service's Secret)")
    for name in file_names:
        if ENV_NAME.match(name):
            # The Secret holds the env too: a file named like a variable would shadow it.
            add("files", f"{name!r} looks like an env variable name; give the file an extension (.sh)")
    if sum(len(f.content.encode()) for f in offering.files) > _MAX_FILES_BYTES:
        add("files", f"total content must stay under {_MAX_FILES_BYTES} bytes")

    mounts = [storage.mount_path, *{f.mount_dir for f in offering.files}]
    dir_names = [d.name for d in offering.security.writable_dirs]
    if len(set(dir_names)) != len(dir_names):
        add("security.writable_dirs", "names must be unique")
    for i, d in enumerate(offering.security.writable_dirs):
        if d.name == "data" or d.name.startswith("files-"):
            add(f"security.writable_dirs[{i}].name", "data and files-* are reserved volume names")
        if d.path in mounts:
            add(f"security.writable_dirs[{i}].path", f"{d.path} is already mounted")
        mounts.append(d.path)

    init_names = [c.name for c in offering.init_containers]
    if offering.container_name in init_names or len(set(init_names)) != len(init_names):
        add("init_containers", "container names must be unique")
    return errors


class Catalog:
    """The offerings known to the engine, by slug. Immutable once loaded."""

    def __init__(self, offerings: Iterable[Offering]) -> None:
        self._by_slug = {o.slug: o for o in sorted(offerings, key=lambda o: o.slug)}

    def get(self, slug: str) -> Offering:
        """The offering `slug`; InvalidInput (field `slug`) listing the known slugs when there is none."""
        try:
            return self._by_slug[slug]
        except KeyError:
            raise InvalidInput("slug", f"unknown offering {slug!r}; known: {', '.join(self.slugs())}") from None

    def offerings(self) -> list[Offering]:
        """All offerings, sorted by slug."""
        return list(self._by_slug.values())

    def slugs(self) -> list[str]:
        """All slugs, sorted."""
        return list(self._by_slug)

    def __contains__(self, slug: object) -> bool:
        return slug in self._by_slug

    def __len__(self) -> int:
        return len(self._by_slug)


def default_offerings_dir() -> Path:
    """Where offerings are read from: $MANAGED_SERVICES_OFFERINGS, the wheel's copy, or the repo's."""
    override = os.environ.get(ENV_VAR)
    if override:
        return Path(override)
    packaged = importlib.resources.files("managed_services") / "offerings"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / "offerings"


def load_catalog(directory: Path | None = None) -> Catalog:
    """Load every `*.yaml` offering in `directory` (default: `default_offerings_dir()`, cached).

    Raises CatalogError naming the file and the field (`postgres-16.yaml:probes.readiness`) for
    unreadable YAML, schema violations, cross-field rules, or a slug that differs from the file name.
    """
    if directory is None:
        return _load_cached(default_offerings_dir().resolve())
    return _load(directory)


@functools.cache
def _load_cached(directory: Path) -> Catalog:
    return _load(directory)


def _load(directory: Path) -> Catalog:
    if not directory.is_dir():
        raise CatalogError(str(directory), "is not a directory of offering files")
    paths = sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    if not paths:
        raise CatalogError(str(directory), "holds no offering files (*.yaml)")
    offerings = [load_offering(p) for p in paths]
    seen: dict[str, Path] = {}
    for path, offering in zip(paths, offerings, strict=True):
        if offering.slug in seen:
            raise CatalogError(f"{path}:slug", f"{offering.slug!r} is also defined in {seen[offering.slug]}")
        seen[offering.slug] = path
    return Catalog(offerings)


def load_offering(path: Path) -> Offering:
    """Load and check one offering file; CatalogError naming the file and the field on any problem."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogError(str(path), f"cannot be read: {exc}") from exc
    except yaml.YAMLError as exc:
        raise CatalogError(str(path), f"is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise CatalogError(str(path), "must hold a mapping of offering fields")
    try:
        offering = Offering.model_validate(data)
    except ValidationError as exc:
        raise CatalogError([FieldError(f"{path}:{_loc(e['loc'])}", _describe(e)) for e in exc.errors()]) from exc
    errors = check_offering(offering)
    if offering.slug != path.stem:
        errors.append(FieldError("slug", f"{offering.slug!r} must match the file name {path.stem!r}"))
    if errors:
        raise CatalogError([FieldError(f"{path}:{e.field}", e.message) for e in errors])
    return offering


def _loc(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        if part == "[key]":  # pydantic's marker for "the key itself is bad"; the key is already named
            continue
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text or "(top level)"


def _describe(error: Any) -> str:
    message = str(error["msg"])
    value = error.get("input")
    if error["type"] not in ("missing", "extra_forbidden") and isinstance(value, str | int | float | bool):
        message += f" (got {value!r})"
    if error["type"] == "extra_forbidden":
        message = "is not a known field (check the spelling; unknown fields are refused)"
    return message
