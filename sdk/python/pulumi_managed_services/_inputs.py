"""The resource's inputs: defaults, canonical forms, validation. Pure, shared by check and diff.

`check` stores canonical inputs in the state (2048Mi becomes 2Gi, an omitted volume size
becomes the offering's default), so `diff` compares like with like and a preview right after
an up shows no change.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from pulumi.runtime import rpc

from managed_services import FieldError, load_catalog
from managed_services.quantities import canonical_storage
from managed_services.spec import Resources, ServiceSpec
from managed_services.validation import check_create, check_update

DEFAULT_TIMEOUT_SECONDS = 600

# Inputs whose change needs a new service (a new namespace or a new offering).
REPLACE_KEYS = ("workspace_id", "project_id", "slug")
# Inputs an update applies in place.
UPDATE_KEYS = (
    "name",
    "env",
    "volume_size",
    "resources",
    "tags",
    "instances",
    "restart_trigger",
    "credentials_rotation",
)
INPUT_KEYS = (*REPLACE_KEYS, *UPDATE_KEYS, "timeout")
# A hidden input naming the resource (`<project>/<stack>/<resource name>`), kept on the service
# so that a retried create adopts what this resource made.
OWNER_KEY = "__owner"


def is_unknown(value: object) -> bool:
    """A value not known during preview (an output of a resource not created yet)."""
    return bool(value == rpc.UNKNOWN)


def known(props: Mapping[str, Any], key: str) -> Any:
    value = props.get(key)
    return None if is_unknown(value) else value


def canonical(props: Mapping[str, Any]) -> dict[str, Any]:
    """Inputs with defaults filled in and quantities in canonical form; unknowns left alone."""
    out = {key: props.get(key) for key in INPUT_KEYS}
    if props.get(OWNER_KEY) is not None:
        out[OWNER_KEY] = props[OWNER_KEY]
    catalog = load_catalog()
    slug = known(props, "slug")
    if out["volume_size"] is None and isinstance(slug, str) and slug in catalog:
        out["volume_size"] = catalog.get(slug).storage.default_size
    if isinstance(out["volume_size"], str):
        with contextlib.suppress(Exception):  # invalid: check reports it
            out["volume_size"] = canonical_storage(out["volume_size"])
    resources = out["resources"] if out["resources"] is not None else {}
    if isinstance(resources, Mapping) and not any(is_unknown(v) for v in resources.values()):
        # The offering's defaults stand in for what is not given: outputs show the live
        # resources, and a preview must not see a difference where there is none.
        if isinstance(slug, str) and slug in catalog:
            default = catalog.get(slug).resources
            resources = {"cpu": default.cpu, "memory": default.memory, **resources}
        try:
            out["resources"] = Resources.from_input(resources).model_dump(exclude_none=True)
        except Exception:
            out["resources"] = dict(resources)  # invalid: check reports it
    if out["env"] is None:
        out["env"] = {}
    if out["tags"] is None:
        out["tags"] = []
    if out["instances"] is None:
        out["instances"] = 1
    if out["timeout"] is None:
        out["timeout"] = DEFAULT_TIMEOUT_SECONDS
    # Pulumi carries every number as a float.
    for key in ("instances", "timeout"):
        value = out[key]
        if isinstance(value, float) and value.is_integer():
            out[key] = int(value)
    for trigger in ("restart_trigger", "credentials_rotation"):
        if out[trigger] is None:
            out[trigger] = ""
    return out


def failures(olds: Mapping[str, Any], news: Mapping[str, Any]) -> list[FieldError]:
    """Every rule the new inputs break, including changes only an existing service forbids."""
    catalog = load_catalog()
    args = {key: known(news, key) for key in INPUT_KEYS}
    errors = check_create(
        catalog,
        workspace_id=args["workspace_id"] if args["workspace_id"] is not None else "unknown",
        project_id=args["project_id"] if args["project_id"] is not None else "unknown",
        name=args["name"] if args["name"] is not None else "unknown",
        slug=args["slug"],
        env=args["env"],
        volume_size=args["volume_size"],
        tags=args["tags"],
        resources=args["resources"],
        instances=args["instances"],
    )
    if args["slug"] is None:
        errors = [e for e in errors if e.field != "slug"]
    timeout = args["timeout"]
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0):
        errors.append(FieldError("timeout", f"must be a positive number of seconds, got {timeout!r}"))
    if olds and not errors and olds.get("slug") == args["slug"] and args["slug"] in catalog:
        errors += _update_failures(olds, args)
    return errors


def _update_failures(olds: Mapping[str, Any], args: Mapping[str, Any]) -> list[FieldError]:
    """Rules that compare with the previous inputs: volumes only grow, immutable env keys stay."""
    offering = load_catalog().get(str(args["slug"]))
    try:
        current = ServiceSpec(
            workspace_id=str(olds.get("workspace_id")),
            project_id=str(olds.get("project_id")),
            service_id="existing",
            name=str(olds.get("name")),
            slug=str(olds.get("slug")),
            env_overrides=dict(olds.get("env") or {}),
            volume_size=canonical_storage(str(olds.get("volume_size"))),
            instances=int(olds.get("instances") or 1),
        )
    except Exception:
        return []  # the old inputs were never valid; nothing to compare with
    errors = check_update(offering, current, env=args["env"], volume_size=args["volume_size"])
    return errors
