"""The desired state of one managed service, and how it is stored on the cluster.

A `ServiceSpec` is what the engine reconciles towards. It is stored as JSON in the
`managed-services.io/spec` annotation of the StatefulSet, WITHOUT the env override values
(they may be secrets): the annotation keeps only their sorted keys, and the values live in
the service's Secret. `from_annotation` joins the two back together.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from . import quantities
from .errors import FieldError, InvalidInput

# Bumped when the annotation's shape changes, so an old engine can refuse a newer one.
ANNOTATION_VERSION = 1


class Resources(BaseModel):
    """CPU and memory for each instance; None means the offering's default."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cpu: str | None = None
    """Kubernetes CPU request in canonical form (`500m`, `2`)."""
    memory: str | None = None
    """Memory request and limit in canonical form (`512Mi`, `2Gi`)."""

    @classmethod
    def from_input(cls, value: Mapping[str, str] | None) -> Resources:
        """Canonical Resources from validated input: `{"cpu": "0.5", "memory": "1024Mi"}` -> 500m, 1Gi."""
        value = value or {}
        cpu, memory = value.get("cpu"), value.get("memory")
        return cls(
            cpu=quantities.canonical_cpu(cpu) if cpu is not None else None,
            memory=quantities.canonical_memory(memory) if memory is not None else None,
        )


class ServiceSpec(BaseModel):
    """Everything needed to render a managed service; validated before it is built."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    workspace_id: str
    project_id: str
    service_id: str
    """Stable, DNS-safe id; names every Kubernetes object of the service."""
    name: str
    """Display name, unique in the project; may change."""
    slug: str
    """Offering slug (`postgres-16`)."""
    env_overrides: dict[str, str] = {}
    """Environment the user set on top of the offering's defaults and generated secrets."""
    volume_size: str
    """Canonical size of each instance's volume (`10Gi`)."""
    resources: Resources = Resources()
    tags: list[str] = []
    instances: int = 1
    restart_token: str | None = None
    owner: str | None = None
    """Who created it (a Pulumi stack and resource name): a retried create adopts its own service."""
    """Changing it rolls the pods (it is a pod template annotation)."""

    def to_annotation(self) -> str:
        """Compact JSON for the spec annotation: env override values are replaced by their sorted keys."""
        data: dict[str, Any] = self.model_dump(exclude={"env_overrides"})
        data["env_override_keys"] = sorted(self.env_overrides)
        data["version"] = ANNOTATION_VERSION
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_annotation(cls, text: str, env_overrides: Mapping[str, str]) -> ServiceSpec:
        """Rebuild a spec from its annotation and the override values.

        `env_overrides` may be the whole environment read from the service's Secret: only the
        keys the annotation lists are kept. Raises InvalidInput (field `managed-services.io/spec`)
        when the annotation is unreadable, from a newer engine, or names a key the Secret lacks.
        """
        field = "managed-services.io/spec"
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidInput(field, f"is not JSON ({exc.msg} at char {exc.pos})") from exc
        if not isinstance(data, dict):
            raise InvalidInput(field, "is not a JSON object")
        version = data.pop("version", None)
        if version != ANNOTATION_VERSION:
            raise InvalidInput(field, f"has version {version!r}; this engine reads version {ANNOTATION_VERSION}")
        keys = data.pop("env_override_keys", [])
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise InvalidInput(field, "env_override_keys is not a list of names")
        missing = sorted(k for k in keys if k not in env_overrides)
        if missing:
            raise InvalidInput(field, f"lists env overrides the Secret does not hold: {', '.join(missing)}")
        data["env_overrides"] = {k: env_overrides[k] for k in keys}
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            errors = [FieldError(f"{field}:{'.'.join(str(p) for p in e['loc'])}", e["msg"]) for e in exc.errors()]
            raise InvalidInput(errors) from exc
