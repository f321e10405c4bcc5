"""Acceptance of the testbed cluster: what the engine's cluster tests rely on."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from lightkube import ApiError, Client, KubeConfig
from lightkube.config.kubeconfig import SingleConfig
from lightkube.config.models import Context, User
from lightkube.generic_resource import create_namespaced_resource
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apps_v1 import StatefulSet
from lightkube.resources.core_v1 import (
    Namespace,
    PersistentVolumeClaim,
    Pod,
    Secret,
    ServiceAccount,
)
from lightkube.resources.rbac_authorization_v1 import Role, RoleBinding

pytestmark = pytest.mark.cluster

PodMetrics = create_namespaced_resource("metrics.k8s.io", "v1beta1", "PodMetrics", "pods")


def wait_for(predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.5) -> object:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


@pytest.fixture(scope="module")
def client(kubeconfig: Path) -> Client:
    return Client(KubeConfig.from_file(kubeconfig), field_manager="testbed-tests")


@pytest.fixture
def namespace(client: Client) -> Iterator[str]:
    name = f"tb-{uuid.uuid4().hex[:8]}"
    client.create(Namespace(metadata=ObjectMeta(name=name)))
    yield name
    client.delete(Namespace, name)


def statefulset(name: str, namespace: str, replicas: int = 2) -> StatefulSet:
    return StatefulSet.from_dict(
        {
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "replicas": replicas,
                "serviceName": name,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": "main", "image": "busybox"}]},
                },
                "volumeClaimTemplates": [
                    {
                        "metadata": {"name": "data"},
                        "spec": {
                            "accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": "1Gi"}},
                        },
                    }
                ],
            },
        }
    )


@pytest.fixture
def ready_statefulset(client: Client, namespace: str) -> StatefulSet:
    client.create(statefulset("db", namespace))

    def ready() -> bool:
        sts = client.get(StatefulSet, "db", namespace=namespace)
        return bool(sts.status and sts.status.readyReplicas == 2)

    wait_for(ready, 60, "2 ready replicas")
    return client.get(StatefulSet, "db", namespace=namespace)


def test_statefulset_with_claims_becomes_ready_with_bound_volumes(
    client: Client, namespace: str, ready_statefulset: StatefulSet
) -> None:
    assert ready_statefulset.status is not None and ready_statefulset.status.readyReplicas == 2
    claims = list(client.list(PersistentVolumeClaim, namespace=namespace))
    assert sorted(c.metadata.name for c in claims if c.metadata) == ["data-db-0", "data-db-1"]
    assert all(c.status and c.status.phase == "Bound" for c in claims)
    pods = list(client.list(Pod, namespace=namespace))
    assert all(p.status and p.status.podIP for p in pods), "pods get an IP"


def test_claims_grow_in_place(client: Client, namespace: str, ready_statefulset: StatefulSet) -> None:
    before = client.get(PersistentVolumeClaim, "data-db-0", namespace=namespace)
    client.patch(
        PersistentVolumeClaim,
        "data-db-0",
        {"spec": {"resources": {"requests": {"storage": "3Gi"}}}},
        namespace=namespace,
    )

    def grown() -> bool:
        pvc = client.get(PersistentVolumeClaim, "data-db-0", namespace=namespace)
        return bool(pvc.status and pvc.status.capacity and pvc.status.capacity.get("storage") == "3Gi")

    wait_for(grown, 30, "the claim's capacity to reach 3Gi")
    after = client.get(PersistentVolumeClaim, "data-db-0", namespace=namespace)
    assert after.metadata and before.metadata and after.metadata.uid == before.metadata.uid


def test_pod_logs_with_since_and_timestamps(client: Client, namespace: str, ready_statefulset: StatefulSet) -> None:
    lines = list(client.log("db-0", namespace=namespace, since=30, timestamps=True))
    assert lines, "the pod has log lines from the last 30 seconds"
    stamp, _, text = lines[-1].partition(" ")
    assert stamp.endswith("Z") and stamp.startswith(time.strftime("%Y-", time.gmtime()))
    assert text.strip()
    # sinceSeconds really filters: a wider window returns more lines.
    assert len(list(client.log("db-0", namespace=namespace, since=300))) > len(lines)


def test_pod_metrics_are_served(client: Client, namespace: str, ready_statefulset: StatefulSet) -> None:
    def metrics() -> list[object]:
        try:
            found = [m for m in client.list(PodMetrics, namespace=namespace) if m.get("containers")]
        except ApiError:
            return []
        # metrics-server scrapes nodes one by one: wait until both pods have a sample.
        return found if len(found) == 2 else []

    found = wait_for(metrics, 90, "PodMetrics for both pods", interval=2)
    assert isinstance(found, list)
    names = sorted(m["metadata"]["name"] for m in found)  # type: ignore[index]
    assert names == ["db-0", "db-1"]
    usage = found[0]["containers"][0]["usage"]  # type: ignore[index]
    assert usage["cpu"] and usage["memory"]


def test_privileged_pod_rejected_in_restricted_namespace(client: Client) -> None:
    name = f"tb-restricted-{uuid.uuid4().hex[:6]}"
    client.create(
        Namespace(metadata=ObjectMeta(name=name, labels={"pod-security.kubernetes.io/enforce": "restricted"}))
    )
    try:
        pod = Pod.from_dict(
            {
                "metadata": {"name": "priv", "namespace": name},
                "spec": {"containers": [{"name": "c", "image": "busybox", "securityContext": {"privileged": True}}]},
            }
        )
        with pytest.raises(ApiError) as raised:
            client.create(pod)
        assert raised.value.status.code == 403
        message = raised.value.status.message or ""
        assert 'violates PodSecurity "restricted:latest"' in message
        assert "privileged" in message
    finally:
        client.delete(Namespace, name)


def test_serviceaccount_is_bound_by_rbac(client: Client, kubeconfig: Path, namespace: str) -> None:
    other = f"tb-other-{uuid.uuid4().hex[:6]}"
    client.create(Namespace(metadata=ObjectMeta(name=other)))
    try:
        client.create(ServiceAccount(metadata=ObjectMeta(name="writer", namespace=namespace)))
        client.create(
            Role.from_dict(
                {
                    "metadata": {"name": "secrets", "namespace": namespace},
                    "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["create", "get"]}],
                }
            )
        )
        client.create(
            RoleBinding.from_dict(
                {
                    "metadata": {"name": "secrets", "namespace": namespace},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "secrets"},
                    "subjects": [{"kind": "ServiceAccount", "name": "writer", "namespace": namespace}],
                }
            )
        )
        token = serviceaccount_token(client, namespace, "writer")
        as_sa = client_with_token(kubeconfig, token)
        secret = Secret(metadata=ObjectMeta(name="made-by-sa"), stringData={"k": "v"})
        create_once_granted(as_sa, secret, namespace)
        with pytest.raises(ApiError) as raised:
            as_sa.create(secret, namespace=other)
        assert raised.value.status.code == 403
        assert "forbidden" in (raised.value.status.message or "")
        assert f"system:serviceaccount:{namespace}:writer" in (raised.value.status.message or "")
    finally:
        client.delete(Namespace, other)


def create_once_granted(client: Client, obj: Secret, namespace: str) -> None:
    """Create `obj`, allowing the RBAC authorizer's cache a few seconds to see a new RoleBinding."""
    deadline = time.monotonic() + 15
    while True:
        try:
            client.create(obj, namespace=namespace)
            return
        except ApiError as exc:
            if exc.status.code != 403 or time.monotonic() > deadline:
                raise
        time.sleep(0.2)


def serviceaccount_token(client: Client, namespace: str, name: str) -> str:
    request = ServiceAccount.Token.from_dict(
        {
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"audiences": [], "expirationSeconds": 600},
        }
    )
    result = client.create(request, name, namespace=namespace)
    return str(result.status.token)


def client_with_token(kubeconfig: Path, token: str) -> Client:
    """A client for the same apiserver that authenticates as the token's owner only."""
    admin = KubeConfig.from_file(kubeconfig).get()
    single = SingleConfig(
        context_name="serviceaccount",
        context=Context(cluster="testbed", user="serviceaccount"),
        cluster=admin.cluster,
        user=User(token=token),
        fname=admin.fname,
    )
    return Client(single)


def test_deleting_statefulset_removes_its_pods(client: Client, namespace: str, ready_statefulset: StatefulSet) -> None:
    started = time.monotonic()
    client.delete(StatefulSet, "db", namespace=namespace)
    wait_for(lambda: not list(client.list(Pod, namespace=namespace)), 20, "every pod to be gone")
    assert time.monotonic() - started < 20
