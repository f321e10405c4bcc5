"""Update in place: what must keep the service's identity keeps it, what changes the pods rolls
them, what cannot change is refused before anything is written."""

from __future__ import annotations

import base64
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from lightkube import Client
from lightkube.resources.apps_v1 import StatefulSet
from lightkube.resources.core_v1 import PersistentVolumeClaim, Pod, Secret

from managed_services import Conflict, Immutable, InvalidInput, ManagedService, ManagedServices

PROJECT = "update"
LABEL_SERVICE_ID = "managed-services.io/service-id"
GI = 1024**3


@dataclass(frozen=True)
class Made:
    db: ManagedService
    other: ManagedService


@pytest.fixture(scope="module")
def made(ms: ManagedServices, workspace: str) -> Made:
    db = ms.create(workspace_id=workspace, project_id=PROJECT, name="db", slug="postgres-16", volume_size="2Gi")
    other = ms.create(workspace_id=workspace, project_id=PROJECT, name="cache", slug="valkey-8", volume_size="1Gi")
    return Made(db, other)


def pod_uids(kube: Client, service: ManagedService) -> dict[str, str]:
    pods = kube.list(Pod, namespace=service.namespace, labels={LABEL_SERVICE_ID: service.id})
    return {str(p.metadata.name): str(p.metadata.uid) for p in pods if p.metadata}


def ready_pods(kube: Client, service: ManagedService) -> list[str]:
    ready = []
    for pod in kube.list(Pod, namespace=service.namespace, labels={LABEL_SERVICE_ID: service.id}):
        conditions = (pod.status.conditions if pod.status else None) or []
        if any(c.type == "Ready" and c.status == "True" for c in conditions) and pod.metadata:
            ready.append(str(pod.metadata.name))
    return sorted(ready)


def claims(kube: Client, service: ManagedService) -> dict[str, PersistentVolumeClaim]:
    found = kube.list(PersistentVolumeClaim, namespace=service.namespace, labels={LABEL_SERVICE_ID: service.id})
    return {str(c.metadata.name): c for c in found if c.metadata}


def sts_of(kube: Client, service: ManagedService) -> StatefulSet:
    sts = kube.get(StatefulSet, service.id, namespace=service.namespace)
    assert sts.metadata is not None and sts.spec is not None
    return sts


def sts_uid(kube: Client, service: ManagedService) -> str:
    metadata = sts_of(kube, service).metadata
    assert metadata is not None
    return str(metadata.uid)


def wait_for_capacity(kube: Client, service: ManagedService, size: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    seen: dict[str, object] = {}
    while time.monotonic() < deadline:
        seen = {
            name: (c.status.capacity or {}).get("storage") if c.status else None
            for name, c in claims(kube, service).items()
        }
        if seen and all(value == size for value in seen.values()):
            return
        time.sleep(0.5)
    raise AssertionError(f"claims did not reach {size} in {timeout}s: {seen}")


def test_rename_keeps_the_id_the_statefulset_and_the_pods(made: Made, ms: ManagedServices, kube: Client) -> None:
    service = made.db
    before_uid = sts_uid(kube, service)
    before_pods = pod_uids(kube, service)
    new_name = f"db-{secrets.token_hex(3)}"
    updated = ms.update(service.id, name=new_name)
    assert updated.id == service.id
    assert updated.name == new_name
    assert ms.get(service.id).name == new_name
    assert sts_uid(kube, service) == before_uid
    # The display name is not in the pod template: renaming restarts nothing.
    assert pod_uids(kube, service) == before_pods


def test_rename_to_a_taken_name_is_a_conflict(made: Made, ms: ManagedServices) -> None:
    before = ms.get(made.db.id)
    ms.kube.stats.reset()
    with pytest.raises(Conflict):
        ms.update(made.db.id, name=made.other.name)
    assert ms.kube.stats.writes == 0, ms.kube.stats.log
    assert ms.get(made.db.id).name == before.name


def test_env_change_rolls_every_pod(made: Made, ms: ManagedServices, kube: Client) -> None:
    service = made.db
    before = pod_uids(kube, service)
    assert before
    value = f"Etc/GMT+{secrets.randbelow(12) + 1}-{secrets.token_hex(2)}"
    updated = ms.update(service.id, env={"TZ": value})
    assert updated.env == {"TZ": value}
    after = pod_uids(kube, service)
    assert after.keys() == before.keys()
    assert set(after.values()).isdisjoint(before.values()), "every pod was replaced"
    assert ready_pods(kube, service) == sorted(after)
    secret = kube.get(Secret, service.id, namespace=service.namespace)
    assert secret.data is not None
    assert base64.b64decode(secret.data["TZ"]).decode() == value
    status = ms.status(service.id)
    assert status.converged and status.phase == "running"


def test_slug_change_is_immutable_and_writes_nothing(made: Made, ms: ManagedServices) -> None:
    ms.kube.stats.reset()
    with pytest.raises(Immutable) as raised:
        ms.update(made.db.id, slug="valkey-8", volume_size="100Gi")
    assert raised.value.field == "slug"
    assert ms.kube.stats.writes == 0, ms.kube.stats.log
    assert ms.get(made.db.id).slug == "postgres-16"


def test_immutable_env_key_is_refused(made: Made, ms: ManagedServices) -> None:
    ms.kube.stats.reset()
    with pytest.raises(Immutable) as raised:
        ms.update(made.db.id, env={"POSTGRES_DB": "renamed"})
    assert raised.value.field == "env.POSTGRES_DB"
    assert ms.kube.stats.writes == 0, ms.kube.stats.log


def test_volume_growth_keeps_the_same_claims_at_the_new_size(made: Made, ms: ManagedServices, kube: Client) -> None:
    service = made.db
    current = ms.get(service.id).volume_size
    assert current.endswith("Gi")
    new_size = f"{int(current[:-2]) + 1}Gi"
    before_claims = {name: c.metadata.uid for name, c in claims(kube, service).items() if c.metadata}
    assert list(before_claims) == [f"data-{service.id}-0"]
    before_pods = pod_uids(kube, service)
    lines: list[str] = []

    updated = ms.update(service.id, volume_size=new_size, progress=lines.append)

    assert updated.volume_size == new_size
    assert f"expanding volume data-{service.id}-0 to {new_size}" in lines
    wait_for_capacity(kube, service, new_size)
    after_claims = claims(kube, service)
    assert {name: c.metadata.uid for name, c in after_claims.items() if c.metadata} == before_claims
    templates = sts_of(kube, service).spec.volumeClaimTemplates
    assert templates is not None and templates[0].spec is not None and templates[0].spec.resources is not None
    assert (templates[0].spec.resources.requests or {}).get("storage") == new_size
    # The StatefulSet adopted the running pods: the volume grew without a restart.
    assert pod_uids(kube, service) == before_pods
    status = ms.status(service.id)
    assert status.converged and status.phase == "running"


def test_volume_growth_keeps_created_at(made: Made, ms: ManagedServices) -> None:
    service = made.other
    before = ms.get(service.id)
    assert before.created_at is not None
    # creationTimestamp has one-second resolution: make a re-creation visible.
    while datetime.now(UTC) - before.created_at < timedelta(seconds=1.5):
        time.sleep(0.2)
    current = before.volume_size
    ms.update(service.id, volume_size=f"{int(current[:-2]) + 1}Gi")
    assert ms.get(service.id).created_at == before.created_at


def test_shrink_is_refused_before_anything_changes(made: Made, ms: ManagedServices, kube: Client) -> None:
    service = made.db
    current = ms.get(service.id).volume_size
    sizes = {
        name: c.spec.resources.requests for name, c in claims(kube, service).items() if c.spec and c.spec.resources
    }
    ms.kube.stats.reset()
    with pytest.raises(InvalidInput) as raised:
        ms.update(service.id, volume_size="1Gi")
    assert raised.value.field == "volume_size"
    assert "shrink" in str(raised.value)
    assert ms.kube.stats.writes == 0, ms.kube.stats.log
    assert ms.get(service.id).volume_size == current
    assert {
        name: c.spec.resources.requests for name, c in claims(kube, service).items() if c.spec and c.spec.resources
    } == sizes


def test_resources_change_rolls_the_pods_and_tags_change_does_not(
    made: Made, ms: ManagedServices, kube: Client
) -> None:
    service = made.db
    before = pod_uids(kube, service)
    updated = ms.update(service.id, resources={"cpu": "0.75", "memory": "768Mi"})
    assert (updated.resources.cpu, updated.resources.memory) == ("750m", "768Mi")
    pod_spec = sts_of(kube, service).spec.template.spec
    assert pod_spec is not None
    container = pod_spec.containers[0]
    assert container.resources is not None
    assert (container.resources.requests or {}).get("cpu") == "750m"
    assert (container.resources.limits or {}).get("memory") == "768Mi"
    rolled = pod_uids(kube, service)
    assert set(rolled.values()).isdisjoint(before.values())

    tags = ["tier:gold", f"run/{secrets.token_hex(3)}"]
    updated = ms.update(service.id, tags=tags)
    assert updated.tags == tags
    assert ms.get(service.id).tags == tags
    # Tags are metadata only: they are kept out of the pod template.
    assert pod_uids(kube, service) == rolled
    assert (updated.resources.cpu, updated.resources.memory) == ("750m", "768Mi")
