"""Quickstart: a database, a cache and an object store for the `shop` project of `acme`."""

import pulumi

from pulumi_managed_services import ManagedService

config = pulumi.Config()
workspace = config.get("workspace") or "acme"
project = config.get("project") or "shop"

orders_db = ManagedService(
    "orders-db",
    workspace_id=workspace,
    project_id=project,
    slug="postgres-16",
    env={"POSTGRES_DB": "orders"},
    volume_size="2Gi",
    tags=["team:checkout"],
    resources={"cpu": "500m", "memory": "1Gi"},
)

sessions = ManagedService(
    "sessions",
    workspace_id=workspace,
    project_id=project,
    slug="valkey-8",
    volume_size="1Gi",
    tags=["team:checkout"],
)

assets = ManagedService(
    "assets",
    workspace_id=workspace,
    project_id=project,
    slug="minio",
    volume_size="5Gi",
    tags=["team:storefront"],
)

for key, service in {"orders_db": orders_db, "sessions": sessions, "assets": assets}.items():
    pulumi.export(f"{key}_id", service.managed_service_id)
    pulumi.export(f"{key}_host", service.host)
    pulumi.export(f"{key}_port", service.port)
    pulumi.export(f"{key}_username", service.username)
    pulumi.export(f"{key}_uri", service.connection_uri)  # secret
