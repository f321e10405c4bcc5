"""Functions a program can call: status, logs, metrics and the list of a project's services.

A dynamic provider has no Invoke, so these run inside the program itself, through the engine,
with the same connection settings as the resources (stack config, then KUBECONFIG). They take
Outputs (`db.managed_service_id`) and return Outputs; during a preview of a service that does
not exist yet they stay unknown.
"""

from __future__ import annotations

from typing import Any

import pulumi

from managed_services import ManagedServices


def _engine() -> ManagedServices:
    config = pulumi.Config("managed-services")
    return ManagedServices(config.get("kubeconfig"), config.get("context"))


def get_status(managed_service_id: pulumi.Input[str]) -> pulumi.Output[dict[str, Any]]:
    """`{total, ready, available, converged, phase, message}` of a service."""

    def fetch(service_id: str) -> dict[str, Any]:
        with _engine() as engine:
            return engine.status(service_id).model_dump(mode="json")

    return pulumi.Output.from_input(managed_service_id).apply(fetch)


def get_logs(
    managed_service_id: pulumi.Input[str],
    since: int | None = 300,
    limit: int | None = 100,
    filter: str | None = None,
) -> pulumi.Output[list[dict[str, Any]]]:
    """Recent log lines of every instance, `{timestamp, instance, line}`, oldest first."""

    def fetch(service_id: str) -> list[dict[str, Any]]:
        with _engine() as engine:
            lines = engine.logs(service_id, since=since, limit=limit, filter=filter)
            return [line.model_dump(mode="json") for line in lines]

    return pulumi.Output.from_input(managed_service_id).apply(fetch)


def get_metrics(
    managed_service_id: pulumi.Input[str],
    names: list[str] | None = None,
    since: int | None = 3600,
) -> pulumi.Output[list[dict[str, Any]]]:
    """`cpu_usage` (average cores) and `memory_usage` (total bytes), each with its own status."""

    def fetch(service_id: str) -> list[dict[str, Any]]:
        with _engine() as engine:
            series = engine.metrics(service_id, names=names or ["cpu_usage", "memory_usage"], since=since)
            return [s.model_dump(mode="json") for s in series]

    return pulumi.Output.from_input(managed_service_id).apply(fetch)


def list_services(
    workspace_id: pulumi.Input[str], project_id: pulumi.Input[str]
) -> pulumi.Output[list[dict[str, Any]]]:
    """The services of a project (secrets masked)."""

    def fetch(ids: list[str]) -> list[dict[str, Any]]:
        with _engine() as engine:
            services = engine.list(workspace_id=ids[0], project_id=ids[1])
            return [s.model_dump(mode="json") for s in services]

    return pulumi.Output.all(workspace_id, project_id).apply(fetch)
