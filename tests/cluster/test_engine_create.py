"""Create: every offering comes up ready under the restricted Pod Security Standard; a taken
name and bad input are refused before anything is written."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Any

import pytest
from lightkube import Client
from lightkube.resources.apps_v1 import StatefulSet
from lightkube.resources.core_v1 import (
    ConfigMap,
    Event,
    Namespace,
    PersistentVolumeClaim,
    Pod,
    Secret,
    Service,
)
from lightkube.resources.networking_v1 import NetworkPolicy
from lightkube.resources.policy_v1 import PodDisruptionBudget

from managed_services import Conflict, InvalidInput, ManagedService, ManagedServices

SLUGS = ("postgres-16", "valkey-8", "minio")
PROJECT = "create"
LABEL_SERVICE_ID = "managed-services.io/service-id"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
KINDS: tuple[type[Any], ...] = (
    StatefulSet,
    Service,
    Secret,
    ConfigMap,
    NetworkPolicy,
    PodDisruptionBudget,
    PersistentVolumeClaim,
    Pod,
)


@dataclass(frozen=True)
class Created:
    service: ManagedService
    progress: list[str]


@pytest.fixture(scope="module", params=SLUGS)
def created(request: pytest.FixtureRequest, ms: ManagedServices, workspace: str) -> Created:
    """One service of each offering, created once and shared by the tests of that offering."""
    slug: str = request.param
    lines: list[str] = []
    service = ms.create(
        workspace_id=workspace, project_id=PROJECT, name=slug, slug=slug, volume_size="1Gi", progress=lines.append
    )
    return Created(service, lines)


def objects_in(kube: Client, namespace: str) -> set[tuple[str, str, str]]:
    """(kind, name, uid) of every object in the namespace that a service may own."""
    found: set[tuple[str, str, str]] = set()
    for kind in KINDS:
        for obj in kube.list(kind, namespace=namespace):
            assert obj.metadata is not None
            found.add((kind.__name__, str(obj.metadata.name), str(obj.metadata.uid)))
    return found


def test_create_returns_once_every_instance_is_ready(created: Created, ms: ManagedServices) -> None:
    service = created.service
    status = ms.status(service.id)
    assert status.converged, status
    assert status.phase == "running"
    assert status.total == 1 and status.ready == status.total
    assert status.available
    offering = ms.catalog.get(service.slug)
    assert service.image == offering.image
    assert service.instances == 1
    assert service.volume_size == "1Gi"


def test_pods_are_admitted_in_a_restricted_namespace(created: Created, kube: Client) -> None:
    service = created.service
    namespace = kube.get(Namespace, service.namespace)
    assert namespace.metadata is not None and namespace.metadata.labels is not None
    assert namespace.metadata.labels.get("pod-security.kubernetes.io/enforce") == "restricted"

    pods = list(kube.list(Pod, namespace=service.namespace, labels={LABEL_SERVICE_ID: service.id}))
    assert [p.metadata.name for p in pods if p.metadata] == [f"{service.id}-0"]
    pod = pods[0]
    assert pod.status is not None and pod.status.phase == "Running"
    assert pod.spec is not None and pod.spec.securityContext is not None
    assert pod.spec.securityContext.runAsNonRoot is True
    sts = kube.get(StatefulSet, service.id, namespace=service.namespace)
    assert sts.status is not None and sts.status.readyReplicas == 1
    # The admission controller refused nothing on the way (a refused pod leaves FailedCreate).
    refused = [
        e.message
        for e in kube.list(Event, namespace=service.namespace)
        if e.reason == "FailedCreate" and (e.involvedObject.name or "").startswith(service.id)
    ]
    assert refused == []


def test_progress_lines_are_numbered_and_end_ready(created: Created) -> None:
    lines = created.progress
    assert lines, "the progress callback was never called"
    assert all(re.fullmatch(r"\[[1-4]/4\] \S.*", line) for line in lines), lines
    assert lines[-1] == "[4/4] ready"
    assert all(a != b for a, b in itertools.pairwise(lines)), "each line is said once"


def test_same_name_twice_is_a_conflict_and_writes_nothing(
    created: Created, ms: ManagedServices, kube: Client, workspace: str
) -> None:
    existing = created.service
    before = objects_in(kube, existing.namespace)
    # The name is taken in the project whatever the offering of the second request.
    for slug in SLUGS:
        ms.kube.stats.reset()
        with pytest.raises(Conflict) as raised:
            ms.create(workspace_id=workspace, project_id=PROJECT, name=existing.name, slug=slug, volume_size="1Gi")
        assert ms.kube.stats.writes == 0, ms.kube.stats.log
        assert existing.name in str(raised.value)
    assert objects_in(kube, existing.namespace) == before
    assert [s.id for s in ms.list(workspace_id=workspace, project_id=PROJECT) if s.name == existing.name] == [
        existing.id
    ]


BAD_INPUT: list[tuple[str, dict[str, Any]]] = [
    ("slug", {"slug": "mysql-8"}),
    ("volume_size", {"slug": "postgres-16", "volume_size": "2GB"}),
    ("volume_size", {"slug": "valkey-8", "volume_size": "100Mi"}),
    ("instances", {"slug": "postgres-16", "instances": 6}),
    ("instances", {"slug": "minio", "instances": 2}),
    ("instances", {"slug": "valkey-8", "instances": -1}),
    ("env.PGDATA", {"slug": "postgres-16", "env": {"PGDATA": "/tmp/elsewhere"}}),
    ("env.MS_POD_NAME", {"slug": "valkey-8", "env": {"MS_POD_NAME": "x"}}),
    ("resources.memory", {"slug": "valkey-8", "resources": {"memory": "1M"}}),
    ("tags[1]", {"slug": "valkey-8", "tags": ["ok", "Not OK"]}),
    ("name", {"slug": "valkey-8", "name": "Orders_DB"}),
]


@pytest.mark.parametrize(("field", "arguments"), BAD_INPUT, ids=[f"{f}-{i}" for i, (f, _) in enumerate(BAD_INPUT)])
def test_bad_input_names_the_field_and_writes_nothing(
    ms: ManagedServices, kube: Client, workspace: str, field: str, arguments: dict[str, Any]
) -> None:
    project = "bad"
    arguments = {"workspace_id": workspace, "project_id": project, "name": "bad-input", **arguments}
    ms.kube.stats.reset()
    with pytest.raises(InvalidInput) as raised:
        ms.create(**arguments)
    assert ms.kube.stats.writes == 0, ms.kube.stats.log
    assert field in [e.field for e in raised.value.errors]
    assert f"{field}:" in str(raised.value)
    # Not even the project's namespace was made.
    assert [ns for ns in kube.list(Namespace) if ns.metadata and ns.metadata.name == f"ms-{workspace}-{project}"] == []
