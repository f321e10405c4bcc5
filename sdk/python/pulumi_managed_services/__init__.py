"""Pulumi SDK for managed-services: curated PostgreSQL, Valkey and MinIO on your own Kubernetes.

    import pulumi
    from pulumi_managed_services import ManagedService

    db = ManagedService("orders-db", workspace_id="acme", project_id="shop", slug="postgres-16")
    pulumi.export("uri", db.connection_uri)   # a secret output

The cluster comes from stack config `managed-services:kubeconfig` (a path or the content)
and `managed-services:context`, else from KUBECONFIG / ~/.kube/config.
"""

from ._functions import get_logs, get_metrics, get_status, list_services
from ._provider import ManagedServiceProvider
from ._resource import ManagedService

__all__ = [
    "ManagedService",
    "ManagedServiceProvider",
    "get_logs",
    "get_metrics",
    "get_status",
    "list_services",
]
