"""The public surface is what the package roots export, and nothing more by accident."""

import managed_services
import pulumi_managed_services


def test_engine_exports() -> None:
    assert set(managed_services.__all__) == {
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
    }
    for name in managed_services.__all__:
        assert getattr(managed_services, name) is not None


def test_sdk_exports() -> None:
    assert set(pulumi_managed_services.__all__) == {
        "ManagedService",
        "ManagedServiceProvider",
        "get_logs",
        "get_metrics",
        "get_status",
        "list_services",
    }
    for name in pulumi_managed_services.__all__:
        assert getattr(pulumi_managed_services, name) is not None
