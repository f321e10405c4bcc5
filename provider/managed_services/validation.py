"""Input rules for creating and updating a managed service.

Pure functions: each returns every broken rule at once (one FieldError per bad field or env
key, worded so a person can fix it), so a user sees all problems in one round trip.
Arguments are typed loosely (`object`) where they arrive from outside (Pulumi inputs, YAML,
JSON) and may be of the wrong type; that is a rule to report, not a crash.

An env change to a key the offering marks immutable yields a FieldError whose message starts
with `IMMUTABLE`; `split_immutable` separates those so the engine can raise `Immutable`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from . import quantities
from .catalog import ENV_NAME, Catalog, Offering
from .errors import FieldError, InvalidInput
from .spec import ServiceSpec

IMMUTABLE = "cannot change after create"
RESERVED_ENV_PREFIX = "MS_"

ID_MAX = 20
NAME_MAX = 40
ENV_KEY_MAX = 128
ENV_VALUE_MAX = 32 * 1024
# The Secret holding the env must stay under Kubernetes' 1 MiB object limit.
ENV_TOTAL_MAX = 256 * 1024
ENV_KEYS_MAX = 100
TAGS_MAX = 20
CPU_MAX_MILLICORES = 64_000
MEMORY_MIN = 64 * quantities.MI
MEMORY_MAX = quantities.TI

_ID = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_NAME = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_TAG = re.compile(r"^[a-z0-9]([a-z0-9:._/-]{0,61}[a-z0-9])?$")
_RESOURCE_KEYS = ("cpu", "memory")


def check_create(
    catalog: Catalog,
    *,
    workspace_id: object,
    project_id: object,
    name: object,
    slug: object,
    env: object = None,
    volume_size: object = None,
    tags: object = None,
    resources: object = None,
    instances: object = 1,
) -> list[FieldError]:
    """Every rule a new service breaks. None for env/volume_size/tags/resources means the default."""
    errors = [*_check_id("workspace_id", workspace_id), *_check_id("project_id", project_id)]
    errors += _check_name(name)
    offering: Offering | None = None
    if isinstance(slug, str) and slug in catalog:
        offering = catalog.get(slug)
    else:
        errors.append(FieldError("slug", f"unknown offering {slug!r}; known: {', '.join(catalog.slugs())}"))
    if env is not None:
        errors += _check_env(offering, env, None)
    if volume_size is not None:
        errors += _check_volume(offering, volume_size, None)
    if tags is not None:
        errors += _check_tags(tags)
    if resources is not None:
        errors += _check_resources(resources)
    errors += _check_instances(offering, instances)
    return errors


def check_update(
    offering: Offering,
    current: ServiceSpec,
    *,
    name: object = None,
    env: object = None,
    volume_size: object = None,
    resources: object = None,
    tags: object = None,
    instances: object = None,
) -> list[FieldError]:
    """Every rule an update breaks; None leaves a field unchanged.

    `env` is the complete new set of overrides (not a patch). Immutable env keys compare by
    effective value, the offering default standing in for an absent override.
    """
    errors: list[FieldError] = []
    if name is not None:
        errors += _check_name(name)
    if env is not None:
        errors += _check_env(offering, env, current)
    if volume_size is not None:
        errors += _check_volume(offering, volume_size, current.volume_size)
    if resources is not None:
        errors += _check_resources(resources)
    if tags is not None:
        errors += _check_tags(tags)
    if instances is not None:
        errors += _check_instances(offering, instances)
    return errors


def raise_if_invalid(errors: Sequence[FieldError]) -> None:
    """Raise InvalidInput carrying all `errors`, if there are any."""
    if errors:
        raise InvalidInput(list(errors))


def split_immutable(errors: Sequence[FieldError]) -> tuple[list[FieldError], list[FieldError]]:
    """(changes to immutable fields, everything else): the engine raises Immutable for the first."""
    immutable = [e for e in errors if e.message.startswith(IMMUTABLE)]
    return immutable, [e for e in errors if not e.message.startswith(IMMUTABLE)]


def _got(value: object) -> str:
    return f"got {type(value).__name__} {value!r}" if not isinstance(value, str) else f"got {value!r}"


def _check_id(field: str, value: object) -> list[FieldError]:
    if not isinstance(value, str):
        return [FieldError(field, f"must be a string ({_got(value)})")]
    if not value:
        return [FieldError(field, "must not be empty")]
    if len(value) > ID_MAX:
        return [FieldError(field, f"must be at most {ID_MAX} characters (got {len(value)})")]
    if not _ID.match(value):
        return [
            FieldError(
                field,
                "must be a lowercase DNS label: lowercase letters, digits and '-', "
                f"starting and ending with a letter or digit ({_got(value)})",
            )
        ]
    if "--" in value:
        return [FieldError(field, "must not contain '--' (it separates the ids in the namespace name)")]
    return []


def _check_name(value: object) -> list[FieldError]:
    if not isinstance(value, str):
        return [FieldError("name", f"must be a string ({_got(value)})")]
    if not value:
        return [FieldError("name", "must not be empty")]
    if len(value) > NAME_MAX:
        return [FieldError("name", f"must be at most {NAME_MAX} characters (got {len(value)})")]
    if not _NAME.match(value):
        return [
            FieldError(
                "name",
                "must be a lowercase DNS label: lowercase letters, digits and '-', starting with a "
                f"letter and ending with a letter or digit ({_got(value)})",
            )
        ]
    return []


def _check_env(offering: Offering | None, env: object, current: ServiceSpec | None) -> list[FieldError]:
    if not isinstance(env, Mapping):
        # The value's type only: its content may hold secrets.
        return [FieldError("env", f"must be a mapping of variable names to string values (got {type(env).__name__})")]
    errors: list[FieldError] = []
    if len(env) > ENV_KEYS_MAX:
        errors.append(FieldError("env", f"at most {ENV_KEYS_MAX} overrides are allowed (got {len(env)})"))
    total = 0
    for key, value in env.items():
        field = f"env.{key}"
        if not isinstance(key, str) or not ENV_NAME.match(key):
            errors.append(
                FieldError(
                    field,
                    "is not a valid variable name: use letters, digits and '_', not starting with a digit",
                )
            )
            continue
        if len(key) > ENV_KEY_MAX:
            errors.append(FieldError(field, f"name must be at most {ENV_KEY_MAX} characters"))
            continue
        if key.startswith(RESERVED_ENV_PREFIX):
            errors.append(
                FieldError(field, f"names starting with {RESERVED_ENV_PREFIX} are reserved for managed-services")
            )
            continue
        if offering is not None and key in offering.env.protected:
            errors.append(FieldError(field, "is set by the offering and cannot be overridden"))
            continue
        if not isinstance(value, str):
            errors.append(FieldError(field, f"must be a string ({type(value).__name__} given)"))
            continue
        if "\0" in value:
            errors.append(FieldError(field, "must not contain NUL characters"))
            continue
        size = len(value.encode())
        total += size + len(key)
        if size > ENV_VALUE_MAX:
            errors.append(FieldError(field, f"value must be at most 32 KiB (got {size} bytes)"))
            continue
        if offering is not None:
            errors += _check_env_value(offering, key, value)
    if total > ENV_TOTAL_MAX:
        errors.append(
            FieldError("env", f"overrides must total at most {ENV_TOTAL_MAX // 1024} KiB (got {total} bytes)")
        )
    if offering is not None and current is not None:
        for key in offering.env.immutable:
            default = offering.env.defaults.get(key)
            before = current.env_overrides.get(key, default)
            after = env.get(key, default)
            if before != after and (after is None or isinstance(after, str)):
                errors.append(
                    FieldError(
                        f"env.{key}",
                        f"{IMMUTABLE}: {offering.display_name} reads it only when it first initialises "
                        "the data directory, so a new value would be ignored; create a new service "
                        "to use a different value",
                    )
                )
    return errors


def _check_env_value(offering: Offering, key: str, value: str) -> list[FieldError]:
    errors: list[FieldError] = []
    generated = offering.generated(key)
    if generated is not None and len(value) < generated.min_length:
        errors.append(
            FieldError(
                f"env.{key}",
                f"must be at least {generated.min_length} characters for {offering.display_name} "
                f"(got {len(value)}); leave it unset to have a {generated.length}-character value generated",
            )
        )
    rule = offering.env.rules.get(key)
    if rule is not None and not re.fullmatch(rule.pattern, value):
        errors.append(FieldError(f"env.{key}", rule.hint))
    return errors


def _check_volume(offering: Offering | None, value: object, current: str | None) -> list[FieldError]:
    field = "volume_size"
    if not isinstance(value, str):
        return [FieldError(field, f"must be a string like 10Gi ({_got(value)})")]
    try:
        size = quantities.parse_storage(value)
    except ValueError:
        return [FieldError(field, f"must be a whole number of Mi, Gi or Ti, like 512Mi or 10Gi ({_got(value)})")]
    low = offering.storage.min_size if offering else "1Gi"
    high = offering.storage.max_size if offering else "16Ti"
    if size < quantities.parse_storage(low):
        return [FieldError(field, f"must be at least {low} (got {value})")]
    if size > quantities.parse_storage(high):
        return [FieldError(field, f"must be at most {high} (got {value})")]
    if current is not None and size < quantities.parse_storage(current):
        return [
            FieldError(field, f"cannot shrink from {current} to {quantities.format_bytes(size)}; volumes only grow")
        ]
    return []


def _check_resources(value: object) -> list[FieldError]:
    if not isinstance(value, Mapping):
        return [FieldError("resources", f"must be a mapping with cpu and/or memory ({_got(value)})")]
    errors: list[FieldError] = []
    for key in value:
        if key not in _RESOURCE_KEYS:
            errors.append(FieldError(f"resources.{key}", "is not a known resource; only cpu and memory can be set"))
    cpu, memory = value.get("cpu"), value.get("memory")
    if cpu is not None:
        errors += _check_cpu(cpu)
    if memory is not None:
        errors += _check_memory(memory)
    return errors


def _check_cpu(value: object) -> list[FieldError]:
    field = "resources.cpu"
    if not isinstance(value, str):
        return [FieldError(field, f"must be a string like 500m or 2 ({_got(value)})")]
    try:
        milli = quantities.parse_cpu(value)
    except ValueError:
        return [FieldError(field, f"must be cores like 0.5 or 2, or millicores like 500m ({_got(value)})")]
    if milli <= 0:
        return [FieldError(field, "must be more than 0")]
    if milli > CPU_MAX_MILLICORES:
        return [FieldError(field, f"must be at most {CPU_MAX_MILLICORES // 1000} cores (got {value})")]
    return []


def _check_memory(value: object) -> list[FieldError]:
    field = "resources.memory"
    if not isinstance(value, str):
        return [FieldError(field, f"must be a string like 512Mi or 2Gi ({_got(value)})")]
    try:
        size = quantities.parse_memory(value)
    except ValueError:
        return [FieldError(field, f"must be a whole number of Mi, Gi or Ti, like 512Mi or 2Gi ({_got(value)})")]
    if size < MEMORY_MIN:
        return [FieldError(field, f"must be at least 64Mi (got {value})")]
    if size > MEMORY_MAX:
        return [FieldError(field, f"must be at most 1Ti (got {value})")]
    return []


def _check_tags(value: object) -> list[FieldError]:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        return [FieldError("tags", f"must be a list of strings ({_got(value)})")]
    errors: list[FieldError] = []
    if len(value) > TAGS_MAX:
        errors.append(FieldError("tags", f"at most {TAGS_MAX} tags are allowed (got {len(value)})"))
    seen: set[str] = set()
    for i, tag in enumerate(value):
        field = f"tags[{i}]"
        if not isinstance(tag, str):
            errors.append(FieldError(field, f"must be a string ({_got(tag)})"))
        elif not _TAG.match(tag):
            errors.append(
                FieldError(
                    field,
                    f"{tag!r} must be 1-63 lowercase letters, digits or ':._/-', "
                    "starting and ending with a letter or digit",
                )
            )
        elif tag in seen:
            errors.append(FieldError(field, f"{tag!r} is repeated; tags must be unique"))
        else:
            seen.add(tag)
    return errors


def _check_instances(offering: Offering | None, value: object) -> list[FieldError]:
    # bool is an int subclass; `instances: true` is a mistake, not 1.
    if isinstance(value, bool) or not isinstance(value, int):
        return [FieldError("instances", f"must be a whole number ({_got(value)})")]
    if value < 0:
        return [FieldError("instances", f"must be 0 or more; 0 stops the service and keeps its data (got {value})")]
    if offering is not None and value > offering.scaling.max_instances:
        message = f"must be at most {offering.scaling.max_instances} for {offering.display_name} (got {value})"
        if offering.scaling.limit_hint:
            message += f": {offering.scaling.limit_hint}"
        return [FieldError("instances", message)]
    return []
