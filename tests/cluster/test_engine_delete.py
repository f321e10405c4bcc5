"""Delete: removes everything the service owns, volumes included, and returns once it is gone."""

from __future__ import annotations

import time
from typing import Any

import pytest
from lightkube import Client
from lightkube.resources.apps_v1 import ControllerRevision, StatefulSet
from lightkube.resources.core_v1 import ConfigMap, PersistentVolumeClaim, Pod, Secret, Service
from lightkube.resources.discovery_v1 import EndpointSlice
from lightkube.resources.networking_v1 import NetworkPolicy
from lightkube.resources.policy_v1 import PodDisruptionBudget

from managed_services import ManagedServices, NotFound

PROJECT = "delete"
LABEL_SERVICE_ID = "managed-services.io/service-id"
# What the engine makes (directly or through the StatefulSet): gone when delete returns.
OWNED: tuple[type[Any], ...] = (
    StatefulSet,
    Service,
    Secret,
    NetworkPolicy,
    PodDisruptionBudget,
    ConfigMap,
    PersistentVolumeClaim,
    Pod,
)
# What Kubernetes derives from those (garbage-collected in the background afterwards).
DERIVED: tuple[type[Any], ...] = (ControllerRevision, EndpointSlice)


def labelled(kube: Client, namespace: str, service_id: str, kinds: tuple[type[Any], ...]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for kind in kinds:
        names = [
            str(obj.metadata.name)
            for obj in kube.list(kind, namespace=namespace, labels={LABEL_SERVICE_ID: service_id})
            if obj.metadata
        ]
        if names:
            found[kind.__name__] = sorted(names)
    return found


@pytest.mark.parametrize(("slug", "instances"), [("postgres-16", 2), ("minio", 1)])
def test_delete_leaves_nothing_labelled_with_the_service(
    ms: ManagedServices, kube: Client, workspace: str, slug: str, instances: int
) -> None:
    service = ms.create(
        workspace_id=workspace, project_id=PROJECT, name=slug, slug=slug, volume_size="1Gi", instances=instances
    )
    before = labelled(kube, service.namespace, service.id, OWNED)
    # Not vacuous: everything the service owns is there before the delete.
    names = [service.id, f"{service.id}-hl"] + ([f"{service.id}-ro"] if instances > 1 else [])
    expected = {
        "StatefulSet": [service.id],
        "Service": sorted(names),
        "Secret": [service.id],
        "NetworkPolicy": [service.id],
        "PersistentVolumeClaim": [f"data-{service.id}-{i}" for i in range(instances)],
        "Pod": [f"{service.id}-{i}" for i in range(instances)],
    }
    if instances > 1:
        expected["PodDisruptionBudget"] = [service.id]
    assert before == expected

    ms.delete(service.id)

    assert labelled(kube, service.namespace, service.id, OWNED) == {}, "left behind when delete returned"
    with pytest.raises(NotFound):
        ms.get(service.id)
    assert ms.list(workspace_id=workspace, project_id=PROJECT) == []
    deadline = time.monotonic() + 60
    while (left := labelled(kube, service.namespace, service.id, DERIVED)) and time.monotonic() < deadline:
        time.sleep(1)
    assert left == {}, "garbage collection left objects labelled with the service"


def test_delete_of_a_missing_id_is_not_found(ms: ManagedServices, workspace: str) -> None:
    service = ms.create(workspace_id=workspace, project_id=PROJECT, name="twice", slug="valkey-8", volume_size="1Gi")
    ms.delete(service.id)
    ms.kube.stats.reset()
    with pytest.raises(NotFound):
        ms.delete(service.id)
    assert ms.kube.stats.writes == 0
    with pytest.raises(NotFound):
        ms.delete("never-existed-00000")


def test_delete_after_scaling_down_removes_the_retained_volumes(
    ms: ManagedServices, kube: Client, workspace: str
) -> None:
    service = ms.create(
        workspace_id=workspace, project_id=PROJECT, name="shrunk", slug="valkey-8", volume_size="1Gi", instances=2
    )
    ms.scale(service.id, 1, wait=True)
    # Scaling down keeps the replica's volume (whenScaled: Retain) for a later scale up.
    left = labelled(kube, service.namespace, service.id, (PersistentVolumeClaim, Pod, PodDisruptionBudget))
    assert left == {
        "PersistentVolumeClaim": [f"data-{service.id}-0", f"data-{service.id}-1"],
        "Pod": [f"{service.id}-0"],
    }

    ms.delete(service.id)

    assert labelled(kube, service.namespace, service.id, OWNED) == {}
