"""Names, labels and annotation keys of everything the engine creates.

All of a service's objects are named from its `service_id`, which is fixed at create and
never reused. The selector labels are the one thing that can never change after create
(a StatefulSet's selector is immutable), so they are a deliberately small subset.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Final

from .errors import InvalidInput
from .spec import ServiceSpec

MANAGED_BY: Final = "managed-services"

LABEL_NAME: Final = "app.kubernetes.io/name"
LABEL_INSTANCE: Final = "app.kubernetes.io/instance"
LABEL_COMPONENT: Final = "app.kubernetes.io/component"
LABEL_PART_OF: Final = "app.kubernetes.io/part-of"
LABEL_MANAGED_BY: Final = "app.kubernetes.io/managed-by"
LABEL_WORKSPACE_ID: Final = "managed-services.io/workspace-id"
LABEL_PROJECT_ID: Final = "managed-services.io/project-id"
LABEL_SERVICE_ID: Final = "managed-services.io/service-id"
LABEL_SLUG: Final = "managed-services.io/slug"
# Set by the StatefulSet controller on each pod; selects one instance.
LABEL_POD_NAME: Final = "statefulset.kubernetes.io/pod-name"

ANNOTATION_SPEC: Final = "managed-services.io/spec"
ANNOTATION_CONFIG_HASH: Final = "managed-services.io/config-hash"
ANNOTATION_RESTART_TOKEN: Final = "managed-services.io/restart-token"
ANNOTATION_NAME: Final = "managed-services.io/name"
ANNOTATION_ENV_OVERRIDE_KEYS: Final = "managed-services.io/env-override-keys"

POD_SECURITY_ENFORCE: Final = "pod-security.kubernetes.io/enforce"
POD_SECURITY_ENFORCE_VERSION: Final = "pod-security.kubernetes.io/enforce-version"

# The volumeClaimTemplate's name; PVCs are `data-<service id>-<ordinal>`.
DATA_VOLUME: Final = "data"

NAMESPACE_PREFIX: Final = "ms-"
SERVICE_ID_MAX: Final = 40
_SUFFIX_LEN = 5
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"
_ID_PART = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@dataclass(frozen=True)
class ObjectNames:
    """The name of each Kubernetes object of one service (all in the project's namespace)."""

    stateful_set: str
    headless_service: str
    client_service: str
    read_only_service: str
    secret: str
    network_policy: str
    pod_disruption_budget: str


def object_names(service_id: str) -> ObjectNames:
    """Names of every object a service may own; the I/O layer also uses this to prune leftovers."""
    return ObjectNames(
        stateful_set=service_id,
        headless_service=f"{service_id}-hl",
        client_service=service_id,
        read_only_service=f"{service_id}-ro",
        secret=service_id,
        network_policy=service_id,
        pod_disruption_budget=service_id,
    )


def pod_name(service_id: str, ordinal: int) -> str:
    """Name of instance `ordinal`; instance 0 is the primary."""
    return f"{service_id}-{ordinal}"


def pvc_name(service_id: str, ordinal: int) -> str:
    """Name of the PersistentVolumeClaim the StatefulSet makes for instance `ordinal`."""
    return f"{DATA_VOLUME}-{service_id}-{ordinal}"


def primary_host(service_id: str) -> str:
    """Stable DNS name of instance 0 through the headless Service, resolvable from the namespace."""
    return f"{pod_name(service_id, 0)}.{object_names(service_id).headless_service}"


def namespace_name(workspace_id: str, project_id: str) -> str:
    """The namespace of a project: `ms-<workspace>-<project>` (`ms-acme-shop`).

    Two different pairs must never share a namespace (it would put one tenant's services behind
    another's NetworkPolicy), but `-` may appear inside ids: ("acme-corp", "shop") and
    ("acme", "corp-shop") would both give `ms-acme-corp-shop`. So when either id contains `-`
    the separator doubles (`ms-acme-corp--shop`); ids may not contain `--`, hence the first `--`
    is always the separator and a single-dash name always has dash-free ids.
    """
    for field, value in (("workspace_id", workspace_id), ("project_id", project_id)):
        if not _ID_PART.match(value) or "--" in value or len(value) > 20:
            raise InvalidInput(field, f"{value!r} is not a lowercase DNS label of at most 20 characters")
    separator = "--" if "-" in workspace_id or "-" in project_id else "-"
    return f"{NAMESPACE_PREFIX}{workspace_id}{separator}{project_id}"


def new_service_id(name: str) -> str:
    """A fresh service id: the slugified name (up to 34 chars) + `-` + 5 random base36 chars.

    At most 40 characters, starts with a letter (Service names must), ends alphanumeric.
    """
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    if not slug or not slug[0].isalpha():
        slug = f"s-{slug}".rstrip("-")
    slug = slug[: SERVICE_ID_MAX - _SUFFIX_LEN - 1].rstrip("-")
    suffix = "".join(secrets.choice(_BASE36) for _ in range(_SUFFIX_LEN))
    return f"{slug}-{suffix}"


def selector_labels(service_id: str) -> dict[str, str]:
    """Labels that select a service's pods: used in the StatefulSet selector, so never change them."""
    return {LABEL_MANAGED_BY: MANAGED_BY, LABEL_SERVICE_ID: service_id}


def labels(spec: ServiceSpec) -> dict[str, str]:
    """Labels on every object of a service (and on its pods).

    Only values fixed at create go here (not the display name or tags): they are also pod
    template labels, and changing those would restart every instance.
    """
    return {
        LABEL_NAME: spec.slug,
        LABEL_INSTANCE: spec.service_id,
        LABEL_COMPONENT: "server",
        LABEL_PART_OF: MANAGED_BY,
        LABEL_WORKSPACE_ID: spec.workspace_id,
        LABEL_PROJECT_ID: spec.project_id,
        LABEL_SLUG: spec.slug,
        **selector_labels(spec.service_id),
    }


def project_labels(workspace_id: str, project_id: str) -> dict[str, str]:
    """Labels that mark a namespace as the given project's (NetworkPolicies select on them)."""
    return {LABEL_WORKSPACE_ID: workspace_id, LABEL_PROJECT_ID: project_id}
