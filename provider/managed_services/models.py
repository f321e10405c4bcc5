"""What the operations return: typed, serialisable, with secrets masked unless asked for."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

MASK = "********"

Phase = Literal["creating", "running", "updating", "paused", "failed", "deleting"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class ResourcesView(_Model):
    cpu: str | None = None
    memory: str | None = None


class ConnectionView(_Model):
    """How clients reach the service; `password` and `uri` are MASK unless secrets were asked for."""

    host: str
    port: int
    username: str | None
    password: str | None
    uri: str
    read_only_host: str | None = None


class ManagedService(_Model):
    """A managed service as the cluster has it now (live objects, not a cached copy)."""

    id: str
    workspace_id: str
    project_id: str
    namespace: str
    name: str
    slug: str
    image: str
    env: dict[str, str]
    """The user's overrides; values of secret keys are MASK unless secrets were asked for."""
    volume_size: str
    resources: ResourcesView
    tags: list[str]
    instances: int
    connection: ConnectionView
    created_at: datetime | None = None
    owner: str | None = None
    """Who created it, when the creator said (the Pulumi provider does)."""


class ServiceStatus(_Model):
    """Convergence of a service; poll it after create, update, restart or scale."""

    total: int
    """Instances the service should have."""
    ready: int
    available: bool
    """At least the primary serves clients."""
    converged: bool
    """Every instance runs the latest configuration and is ready."""
    phase: Phase
    message: str = ""


class ServiceDetails(_Model):
    """A service, every env var it runs with, and its status: all from one lookup."""

    service: ManagedService
    effective_env: dict[str, str]
    """Offering defaults, generated values and overrides; secret values are MASK unless asked for."""
    status: ServiceStatus


class LogLine(_Model):
    timestamp: datetime
    instance: str
    line: str


class MetricPoint(_Model):
    timestamp: datetime
    value: float


class MetricSeries(_Model):
    """One requested metric; a failed metric carries its error and never fails the others."""

    name: str
    status: Literal["ok", "error"]
    unit: str | None = None
    points: list[MetricPoint] = []
    error: str | None = None
    source: str | None = None


class Offering(_Model):
    """A catalog entry as shown to users."""

    slug: str
    display_name: str
    description: str
    image: str
    port: int
    default_volume_size: str
    max_instances: int
    replicas: str
