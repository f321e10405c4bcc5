"""managed-services: curated PostgreSQL, Valkey and MinIO on your own Kubernetes.

    from managed_services import ManagedServices
    ms = ManagedServices()                       # KUBECONFIG, ~/.kube/config or in-cluster
    svc = ms.create(workspace_id="acme", project_id="shop", name="orders-db", slug="postgres-16")
    ms.status(svc.id); ms.logs(svc.id, since=300); ms.delete(svc.id)

Everything public is re-exported here; the modules are internals.
"""

from .catalog import Catalog, load_catalog
from .engine import DEFAULT_TIMEOUT, ManagedServices
from .errors import (
    CatalogError,
    Conflict,
    FieldError,
    Forbidden,
    Immutable,
    InvalidInput,
    KubernetesUnavailable,
    ManagedServicesError,
    NotFound,
    Timeout,
)
from .models import (
    MASK,
    ConnectionView,
    LogLine,
    ManagedService,
    MetricPoint,
    MetricSeries,
    ResourcesView,
    ServiceDetails,
    ServiceStatus,
)
from .models import Offering as OfferingView

__all__ = [
    "DEFAULT_TIMEOUT",
    "MASK",
    "Catalog",
    "CatalogError",
    "Conflict",
    "ConnectionView",
    "FieldError",
    "Forbidden",
    "Immutable",
    "InvalidInput",
    "KubernetesUnavailable",
    "LogLine",
    "ManagedService",
    "ManagedServices",
    "ManagedServicesError",
    "MetricPoint",
    "MetricSeries",
    "NotFound",
    "OfferingView",
    "ResourcesView",
    "ServiceDetails",
    "ServiceStatus",
    "Timeout",
    "load_catalog",
]
