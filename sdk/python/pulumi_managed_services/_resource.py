"""`ManagedService`: a curated database or store on Kubernetes, as a Pulumi resource."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
from pulumi.dynamic import Resource

from managed_services import load_catalog

from ._provider import OWNER_KEY, SECRET_OUTPUTS, ManagedServiceProvider

# Env names that hold credentials by convention, beside those the offering declares secret.
_SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|KEY|CREDENTIAL", re.IGNORECASE)

_OUTPUTS = (
    "managed_service_id",
    "namespace",
    "image",
    "host",
    "port",
    "username",
    "password",
    "connection_uri",
    "read_only_host",
    "effective_env",
    "status",
)


class ManagedService(Resource, module="managed-services", name="ManagedService"):
    """A PostgreSQL 16, Valkey 8 or MinIO service, secured, persistent and ready when created.

    Changing `workspace_id`, `project_id` or `slug` replaces the service (its data is lost);
    everything else changes in place. `password` and `connection_uri` are secret outputs.
    """

    managed_service_id: pulumi.Output[str]
    namespace: pulumi.Output[str]
    image: pulumi.Output[str]
    host: pulumi.Output[str]
    port: pulumi.Output[int]
    username: pulumi.Output[str | None]
    password: pulumi.Output[str | None]
    connection_uri: pulumi.Output[str]
    read_only_host: pulumi.Output[str | None]
    effective_env: pulumi.Output[dict[str, str]]
    env: pulumi.Output[dict[str, str]]
    volume_size: pulumi.Output[str]
    resources: pulumi.Output[dict[str, str]]
    tags: pulumi.Output[list[str]]
    instances: pulumi.Output[int]
    status: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        *,
        workspace_id: pulumi.Input[str],
        project_id: pulumi.Input[str],
        slug: pulumi.Input[str],
        name: pulumi.Input[str] | None = None,
        env: pulumi.Input[Mapping[str, pulumi.Input[str]]] | None = None,
        volume_size: pulumi.Input[str] | None = None,
        tags: pulumi.Input[Sequence[pulumi.Input[str]]] | None = None,
        resources: pulumi.Input[Mapping[str, pulumi.Input[str]]] | None = None,
        instances: pulumi.Input[int] | None = None,
        timeout: pulumi.Input[int] | None = None,
        restart_trigger: pulumi.Input[str] | None = None,
        credentials_rotation: pulumi.Input[str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """
        :param workspace_id: the workspace (lowercase DNS label, at most 20 characters).
        :param project_id: the project in the workspace; one Kubernetes namespace per project.
        :param slug: the offering: `postgres-16`, `valkey-8` or `minio`.
        :param name: display name, unique in the project; defaults to the resource name.
        :param env: env overrides on top of the offering's defaults (secret-looking ones are kept secret).
        :param volume_size: size of each instance's volume (`2Gi`); volumes only grow.
        :param tags: free-form tags (`team:checkout`).
        :param resources: `{"cpu": "500m", "memory": "1Gi"}` per instance.
        :param instances: instance count; 0 pauses (data kept); more than 1 adds read replicas.
        :param timeout: seconds to wait for readiness on create and update (default 600).
        :param restart_trigger: change it to roll every instance.
        :param credentials_rotation: change it to replace the generated passwords with new ones.
        """
        props: dict[str, Any] = {
            "workspace_id": workspace_id,
            "project_id": project_id,
            "slug": slug,
            "name": name if name is not None else resource_name,
            "env": _keep_secret(slug, env),
            "volume_size": volume_size,
            "tags": tags,
            "resources": resources,
            "instances": instances,
            "timeout": timeout,
            "restart_trigger": restart_trigger,
            "credentials_rotation": credentials_rotation,
            **{key: None for key in _OUTPUTS},
            OWNER_KEY: f"{pulumi.get_project()}/{pulumi.get_stack()}/{resource_name}",
        }
        opts = pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(additional_secret_outputs=list(SECRET_OUTPUTS))
        )
        super().__init__(ManagedServiceProvider(), resource_name, props, opts)


def _keep_secret(slug: pulumi.Input[str], env: Any) -> Any:
    """Make the env input secret when it holds a credential, so the state never has it in plain text."""
    if env is None or not isinstance(env, Mapping) or not isinstance(slug, str):
        return env
    catalog = load_catalog()
    offering = catalog.get(slug) if slug in catalog else None
    if any((offering is not None and offering.is_secret_env(key)) or _SECRET_NAME.search(key) for key in env):
        return pulumi.Output.secret(env)
    return env
