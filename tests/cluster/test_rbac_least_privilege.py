"""The RBAC rules the README documents (deploy/rbac.yaml) are enough for every operation,
and give nothing outside project namespaces."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from lightkube import ApiError, Client, KubeConfig
from lightkube.codecs import from_dict, load_all_yaml
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace, Secret, ServiceAccount
from lightkube.resources.rbac_authorization_v1 import ClusterRole, ClusterRoleBinding

from managed_services import Forbidden, ManagedServices, render

RBAC = Path(__file__).resolve().parents[2] / "deploy" / "rbac.yaml"


@pytest.fixture(scope="module")
def admin(kubeconfig: Path) -> Client:
    return Client(KubeConfig.from_file(kubeconfig), field_manager="rbac-test")


@pytest.fixture(scope="module")
def engine_identity(
    admin: Client, kubeconfig: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, str]]:
    """A kubeconfig that authenticates as the documented ServiceAccount (and only as it), and its subject."""
    suffix = uuid.uuid4().hex[:6]
    sa_namespace = f"ms-engine-{suffix}"
    admin.create(Namespace(metadata=ObjectMeta(name=sa_namespace)))
    admin.create(ServiceAccount(metadata=ObjectMeta(name="engine", namespace=sa_namespace)))
    # The documented manifest, with the subject pointed at this test's ServiceAccount and the
    # ClusterRoleBinding given a unique name.
    objects = load_all_yaml(RBAC.read_text())
    created: list[tuple[type, str]] = []
    for obj in objects:
        if isinstance(obj, ClusterRoleBinding):
            obj.metadata.name = f"managed-services-{suffix}"
            obj.subjects[0].namespace = sa_namespace
        admin.apply(obj, force=True)
        created.append((type(obj), obj.metadata.name))
    token = admin.create(
        ServiceAccount.Token.from_dict(
            {"metadata": {"name": "engine", "namespace": sa_namespace}, "spec": {"expirationSeconds": 3600}}
        ),
        "engine",
        namespace=sa_namespace,
    ).status.token
    cluster = yaml.safe_load(kubeconfig.read_text())["clusters"][0]
    path = tmp_path_factory.mktemp("sa") / "kubeconfig.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [cluster],
                "users": [{"name": "engine", "user": {"token": token}}],
                "contexts": [{"name": "engine", "context": {"cluster": cluster["name"], "user": "engine"}}],
                "current-context": "engine",
            }
        )
    )
    wait_until_granted(path, sa_namespace)
    yield path, f"serviceaccount:{sa_namespace}:engine"
    for kind, name in created:
        if kind is ClusterRoleBinding:
            admin.delete(kind, name)
    admin.delete(Namespace, sa_namespace)


def wait_until_granted(kubeconfig: Path, namespace: str) -> None:
    """The RBAC authorizer sees a new ClusterRoleBinding a moment after it is written."""
    client = Client(KubeConfig.from_file(kubeconfig))
    deadline = time.monotonic() + 30
    while True:
        try:
            client.get(Namespace, namespace)
            return
        except ApiError as exc:
            if exc.status.code != 403 or time.monotonic() > deadline:
                raise
        time.sleep(0.2)


def test_service_account_can_run_every_operation(engine_identity: tuple[Path, str]) -> None:
    engine_kubeconfig, subject = engine_identity
    workspace = f"rbac{uuid.uuid4().hex[:6]}"
    with ManagedServices(engine_kubeconfig, rbac_subject=subject) as ms:
        svc = ms.create(workspace_id=workspace, project_id="p", name="db", slug="postgres-16", volume_size="1Gi")
        try:
            assert ms.get(svc.id).id == svc.id
            assert [s.id for s in ms.list(workspace_id=workspace, project_id="p")] == [svc.id]
            ms.update(svc.id, env={"TZ": "UTC"}, volume_size="2Gi", tags=["rbac"])
            assert ms.get(svc.id).volume_size == "2Gi"
            assert ms.logs(svc.id, since=60)
            metrics = ms.metrics(svc.id)
            assert all(m.error is None or "forbidden" not in m.error.lower() for m in metrics)
            ms.restart(svc.id)
            ms.wait(svc.id, timeout=120)
            ms.scale(svc.id, 0, wait=True)
            assert ms.status(svc.id).phase == "paused"
            ms.scale(svc.id, 1, wait=True)
            assert ms.status(svc.id).converged
        finally:
            ms.delete(svc.id)
        # Nothing outside project namespaces: not another namespace's secrets.
        with pytest.raises(Forbidden):
            ms.kube.list(Secret, namespace="default")


def test_create_converges_in_a_namespace_left_without_its_role_binding(
    admin: Client, engine_identity: tuple[Path, str]
) -> None:
    # A run stopped between creating the project namespace and binding the workload role in it
    # leaves a namespace the engine may not write into; the next create grants itself again and
    # waits for the authorizer to see the grant, instead of failing for ever.
    engine_kubeconfig, subject = engine_identity
    workspace = f"rbac{uuid.uuid4().hex[:6]}"
    admin.apply(from_dict(render.render_namespace(workspace, "p")), force=True)
    with ManagedServices(engine_kubeconfig, rbac_subject=subject) as ms:
        svc = ms.create(workspace_id=workspace, project_id="p", name="db", slug="valkey-8", wait=False)
        try:
            assert ms.get(svc.id).slug == "valkey-8"
        finally:
            ms.delete(svc.id)


def test_workload_role_is_not_bound_cluster_wide(admin: Client) -> None:
    bound = {b.roleRef.name for b in admin.list(ClusterRoleBinding)}
    assert "managed-services-workloads" not in bound
    role = admin.get(ClusterRole, "managed-services")
    namespaced_in_cluster_role = {
        res for rule in role.rules for res in (rule.resources or []) if res in {"secrets", "pods", "services"}
    }
    assert not namespaced_in_cluster_role, "the cluster-wide role holds no workload rules"


def test_forbidden_is_reported_with_the_verb_and_resource(engine_identity: tuple[Path, str]) -> None:
    with ManagedServices(engine_identity[0]) as ms, pytest.raises(Forbidden) as raised:
        ms.kube.list(Secret, namespace="kube-system")
    message = str(raised.value)
    assert "secrets" in message and "forbidden" in message.lower() and "list" in message
