"""Scale: 0 pauses and keeps the data, more than one adds read replicas behind a
PodDisruptionBudget and a read-only Service, offerings without replicas refuse."""

from __future__ import annotations

import pytest
from lightkube import Client
from lightkube.resources.core_v1 import PersistentVolumeClaim, Pod, Service
from lightkube.resources.policy_v1 import PodDisruptionBudget

from managed_services import InvalidInput, ManagedService, ManagedServices

PROJECT = "scale"
LABEL_SERVICE_ID = "managed-services.io/service-id"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"


@pytest.fixture(scope="module")
def db(ms: ManagedServices, workspace: str) -> ManagedService:
    return ms.create(workspace_id=workspace, project_id=PROJECT, name="db", slug="postgres-16", volume_size="1Gi")


@pytest.fixture(scope="module")
def store(ms: ManagedServices, workspace: str) -> ManagedService:
    return ms.create(workspace_id=workspace, project_id=PROJECT, name="store", slug="minio", volume_size="1Gi")


def pod_names(kube: Client, service: ManagedService) -> list[str]:
    pods = kube.list(Pod, namespace=service.namespace, labels={LABEL_SERVICE_ID: service.id})
    return sorted(str(p.metadata.name) for p in pods if p.metadata)


def claim_uids(kube: Client, service: ManagedService) -> dict[str, str]:
    found = kube.list(PersistentVolumeClaim, namespace=service.namespace, labels={LABEL_SERVICE_ID: service.id})
    return {str(c.metadata.name): str(c.metadata.uid) for c in found if c.metadata}


def pdbs(kube: Client, service: ManagedService) -> list[PodDisruptionBudget]:
    return list(kube.list(PodDisruptionBudget, namespace=service.namespace, labels={LABEL_SERVICE_ID: service.id}))


def read_only_services(kube: Client, service: ManagedService) -> list[str]:
    found = kube.list(Service, namespace=service.namespace, labels={LABEL_SERVICE_ID: service.id})
    return [str(s.metadata.name) for s in found if s.metadata and str(s.metadata.name).endswith("-ro")]


def test_scale_to_zero_pauses_and_keeps_the_volume(db: ManagedService, ms: ManagedServices, kube: Client) -> None:
    ms.scale(db.id, 1, wait=True)
    claims = claim_uids(kube, db)
    primary_claim = f"data-{db.id}-0"
    assert primary_claim in claims

    status = ms.scale(db.id, 0, wait=True)
    assert status.phase == "paused" and status.converged
    assert (status.total, status.ready, status.available) == (0, 0, False)
    assert pod_names(kube, db) == []
    assert claim_uids(kube, db)[primary_claim] == claims[primary_claim]
    assert ms.get(db.id).instances == 0

    status = ms.scale(db.id, 1, wait=True)
    assert status.phase == "running" and status.converged
    assert (status.total, status.ready, status.available) == (1, 1, True)
    assert pod_names(kube, db) == [f"{db.id}-0"]
    assert claim_uids(kube, db)[primary_claim] == claims[primary_claim], "the data volume came back, not a new one"


def test_scale_to_two_adds_a_ready_replica_with_pdb_and_read_only_service(
    db: ManagedService, ms: ManagedServices, kube: Client
) -> None:
    ms.scale(db.id, 1, wait=True)
    assert pdbs(kube, db) == []
    assert read_only_services(kube, db) == []

    status = ms.scale(db.id, 2, wait=True)
    assert status.converged and status.phase == "running"
    assert (status.total, status.ready) == (2, 2)
    assert pod_names(kube, db) == [f"{db.id}-0", f"{db.id}-1"]
    budgets = pdbs(kube, db)
    assert [b.metadata.name for b in budgets if b.metadata] == [db.id]
    assert budgets[0].spec is not None and budgets[0].spec.maxUnavailable == 1
    assert budgets[0].spec.selector is not None
    assert budgets[0].spec.selector.matchLabels == {LABEL_MANAGED_BY: "managed-services", LABEL_SERVICE_ID: db.id}
    read_only = kube.get(Service, f"{db.id}-ro", namespace=db.namespace)
    assert read_only.spec is not None and read_only.spec.selector is not None
    # Every instance, not just the primary.
    assert "statefulset.kubernetes.io/pod-name" not in read_only.spec.selector
    assert read_only.spec.selector[LABEL_SERVICE_ID] == db.id
    view = ms.get(db.id)
    assert view.instances == 2
    assert view.connection.read_only_host is not None and view.connection.read_only_host.startswith(f"{db.id}-ro.")
    assert set(claim_uids(kube, db)) == {f"data-{db.id}-0", f"data-{db.id}-1"}

    status = ms.scale(db.id, 1, wait=True)
    assert (status.total, status.ready, status.converged) == (1, 1, True)
    assert pdbs(kube, db) == []
    assert pod_names(kube, db) == [f"{db.id}-0"]
    # With no replica left, the read-only endpoint goes too.
    assert read_only_services(kube, db) == []
    assert ms.get(db.id).connection.read_only_host is None


def test_scale_above_the_offering_maximum_is_invalid(
    db: ManagedService, store: ManagedService, ms: ManagedServices
) -> None:
    for service, instances in ((store, 2), (db, 6)):
        before = ms.get(service.id).instances
        ms.kube.stats.reset()
        with pytest.raises(InvalidInput) as raised:
            ms.scale(service.id, instances)
        assert raised.value.field == "instances"
        assert ms.kube.stats.writes == 0, ms.kube.stats.log
        assert ms.get(service.id).instances == before


def test_negative_instances_is_invalid(db: ManagedService, ms: ManagedServices) -> None:
    ms.kube.stats.reset()
    with pytest.raises(InvalidInput) as raised:
        ms.scale(db.id, -1)
    assert raised.value.field == "instances"
    assert ms.kube.stats.writes == 0


def test_pausing_a_replicated_service_removes_its_budget_and_keeps_every_volume(
    db: ManagedService, ms: ManagedServices, kube: Client
) -> None:
    ms.scale(db.id, 2, wait=True)
    claims = claim_uids(kube, db)
    assert set(claims) == {f"data-{db.id}-0", f"data-{db.id}-1"}
    assert len(pdbs(kube, db)) == 1

    status = ms.scale(db.id, 0, wait=True)
    assert (status.phase, status.total, status.converged) == ("paused", 0, True)
    assert pod_names(kube, db) == []
    assert pdbs(kube, db) == []
    assert read_only_services(kube, db) == []
    assert claim_uids(kube, db) == claims

    status = ms.scale(db.id, 2, wait=True)
    assert (status.phase, status.ready, status.converged) == ("running", 2, True)
    assert claim_uids(kube, db) == claims, "both instances came back on their own volumes"
    ms.scale(db.id, 1, wait=True)
