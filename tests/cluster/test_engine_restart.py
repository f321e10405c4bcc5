"""Restart: returns at once, then rolls every instance one at a time, so a service with two
instances always has one serving."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest
from lightkube import Client
from lightkube.resources.apps_v1 import StatefulSet
from lightkube.resources.core_v1 import Pod

from managed_services import ManagedService, ManagedServices

PROJECT = "restart"
LABEL_SERVICE_ID = "managed-services.io/service-id"


@dataclass(frozen=True)
class PodState:
    uid: str
    ready: bool
    terminating: bool


Observation = dict[str, PodState]


@pytest.fixture(scope="module")
def db(ms: ManagedServices, workspace: str) -> ManagedService:
    return ms.create(
        workspace_id=workspace, project_id=PROJECT, name="db", slug="postgres-16", volume_size="1Gi", instances=2
    )


def pod_state(pod: Pod) -> PodState:
    assert pod.metadata is not None
    conditions = (pod.status.conditions if pod.status else None) or []
    return PodState(
        uid=str(pod.metadata.uid),
        ready=any(c.type == "Ready" and c.status == "True" for c in conditions),
        terminating=pod.metadata.deletionTimestamp is not None,
    )


def observe(kube: Client, service: ManagedService) -> tuple[Observation, str]:
    """The pods now, and the resourceVersion to replay what happens to them next."""
    pods = kube.list(Pod, namespace=service.namespace, labels={LABEL_SERVICE_ID: service.id})
    seen = {str(pod.metadata.name): pod_state(pod) for pod in pods if pod.metadata is not None}
    return seen, pods.resourceVersion


def replay(
    kube: Client, service: ManagedService, start: Observation, since: str, until: Observation
) -> list[Observation]:
    """Every state the pods went through after `since`, in order, up to `until`.

    Replaying the watch history sees every transition, however fast the roll went; polling
    can miss a whole instance's replacement on a busy machine.
    """
    states = [dict(start)]
    current = dict(start)
    events = kube.watch(
        Pod,
        namespace=service.namespace,
        labels={LABEL_SERVICE_ID: service.id},
        resource_version=since,
        server_timeout=30,
    )
    for kind, pod in events:
        if pod.metadata is None or kind not in ("ADDED", "MODIFIED", "DELETED"):
            continue
        name = str(pod.metadata.name)
        if kind == "DELETED":
            current.pop(name, None)
        else:
            current[name] = pod_state(pod)
        states.append(dict(current))
        if current == until:
            return states
    raise AssertionError("the watch ended before the final state was replayed")


def serving(observation: Observation) -> int:
    return sum(1 for state in observation.values() if state.ready and not state.terminating)


def test_statefulset_rolls_one_instance_at_a_time(db: ManagedService, kube: Client) -> None:
    sts = kube.get(StatefulSet, db.id, namespace=db.namespace)
    assert sts.spec is not None and sts.spec.updateStrategy is not None
    assert sts.spec.updateStrategy.type == "RollingUpdate"
    assert sts.spec.podManagementPolicy == "OrderedReady"


def test_restart_returns_at_once_and_rolls_every_pod_keeping_one_ready(
    db: ManagedService, ms: ManagedServices, kube: Client
) -> None:
    ms.wait(db.id, timeout=60)
    before, since = observe(kube, db)
    assert sorted(before) == [f"{db.id}-0", f"{db.id}-1"]
    assert serving(before) == 2
    old_uids = {state.uid for state in before.values()}

    started = time.monotonic()
    status = ms.restart(db.id)
    returned_after = time.monotonic() - started
    assert not status.converged, "restart returned after the roll instead of at once"
    assert returned_after < 5

    deadline = time.monotonic() + 60
    while True:
        now, _ = observe(kube, db)
        current = {state.uid for state in now.values()}
        if len(now) == 2 and current.isdisjoint(old_uids) and serving(now) == 2:
            break
        if time.monotonic() > deadline:
            raise AssertionError(f"the pods were not all replaced in 60s; last seen {now}")
        time.sleep(0.1)

    observations = replay(kube, db, before, since, until=now)
    for observation in observations:
        assert serving(observation) >= 1, f"no instance was serving at some point: {observation}"

    # UIDs changed one by one: the roll passed a state with one original pod replaced and the
    # other still there (else the "one serving" check above could pass without any roll at all).
    def half_way(observation: Observation) -> bool:
        uids = {state.uid for state in observation.values()}
        return len(observation) == 2 and len(uids & old_uids) == 1

    assert any(half_way(o) for o in observations), f"the roll was not seen in progress: {observations}"

    final = ms.wait(db.id, timeout=60)
    assert final.converged and final.phase == "running" and (final.ready, final.total) == (2, 2)
    assert {state.uid for state in observe(kube, db)[0].values()}.isdisjoint(old_uids)
