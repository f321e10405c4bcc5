"""The ManagedService resource through the real Pulumi CLI (Automation API, file backend).

One stack per module walks the lifecycle in order: up, preview, update, drift, replace,
bad input, destroy. Each test states one acceptance criterion of the Pulumi issue.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pulumi
import pytest
from lightkube import Client, KubeConfig
from lightkube.resources.apps_v1 import StatefulSet
from lightkube.resources.core_v1 import PersistentVolumeClaim, Pod, Secret, Service
from lightkube.resources.networking_v1 import NetworkPolicy
from pulumi import automation as auto

from examples._stack import open_stack
from pulumi_managed_services import ManagedService
from tests.testbed import paths

PROJECT_DIR = Path(__file__).resolve().parents[2] / "examples" / "python-quickstart"
LABEL_SERVICE_ID = "managed-services.io/service-id"
LABEL_WORKSPACE = "managed-services.io/workspace-id"


class Desired:
    """What the test program declares; tests change it between runs."""

    def __init__(self, workspace: str) -> None:
        self.workspace = workspace
        self.project = "shop"
        self.db: dict[str, Any] = {
            "slug": "postgres-16",
            "env": {"POSTGRES_DB": "orders"},
            "volume_size": "2Gi",
        }
        self.cache: dict[str, Any] = {"slug": "valkey-8", "instances": 1}

    def program(self) -> None:
        db = ManagedService("orders-db", workspace_id=self.workspace, project_id=self.project, **self.db)
        cache = ManagedService("sessions", workspace_id=self.workspace, project_id=self.project, **self.cache)
        pulumi.export("db_id", db.managed_service_id)
        pulumi.export("db_uri", db.connection_uri)
        pulumi.export("db_password", db.password)
        pulumi.export("cache_id", cache.managed_service_id)
        pulumi.export("cache_slug", cache.slug)


@pytest.fixture(scope="module")
def client(kubeconfig: Path) -> Client:
    return Client(KubeConfig.from_file(kubeconfig))


@pytest.fixture(scope="module")
def desired() -> Desired:
    return Desired(f"e2e{uuid.uuid4().hex[:6]}")


@pytest.fixture(scope="module")
def stack(kubeconfig: Path, desired: Desired) -> Iterator[auto.Stack]:
    stack = open_stack(PROJECT_DIR, f"e2e-{desired.workspace}", kubeconfig=kubeconfig, program=desired.program)
    yield stack
    try:
        stack.destroy(on_output=print)
    finally:
        stack.workspace.remove_stack(stack.name, force=True)


def ours(client: Client, kind: type[Any], workspace: str) -> list[Any]:
    return list(client.list(kind, namespace="*", labels={LABEL_WORKSPACE: workspace}))


def pod_uids(client: Client, service_id: str) -> dict[str, str]:
    pods = client.list(Pod, namespace="*", labels={LABEL_SERVICE_ID: service_id})
    return {p.metadata.name: p.metadata.uid for p in pods}


def wait_for(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_up_creates_ready_services_with_secret_outputs(stack: auto.Stack, client: Client, desired: Desired) -> None:
    result = stack.up(on_output=print)
    assert result.summary.result == "succeeded"
    assert result.outputs["db_uri"].secret and result.outputs["db_password"].secret
    assert result.outputs["db_uri"].value.startswith("postgresql://app:")
    for key in ("db_id", "cache_id"):
        sts = next(iter(client.list(StatefulSet, namespace="*", labels={LABEL_SERVICE_ID: result.outputs[key].value})))
        assert sts.status.readyReplicas == sts.spec.replicas == 1


def test_preview_after_up_shows_no_change(stack: auto.Stack) -> None:
    preview = stack.preview(on_output=print, diff=True)
    changes = {k: v for k, v in preview.change_summary.items() if k != "same"}
    assert changes == {}, preview.stdout


def test_state_holds_no_plaintext_password(stack: auto.Stack) -> None:
    password = stack.outputs()["db_password"].value
    assert len(password) >= 16
    state = paths.pulumi_backend_dir()
    files = [p for p in state.rglob("*.json") if stack.name in p.name or stack.name in str(p.parent)]
    assert files, f"no state file for {stack.name} under {state}"
    for path in files:
        assert password not in path.read_text(), f"plaintext password in {path}"
    # The outputs are there, encrypted (`pulumi stack export` decrypts them: --show-secrets).
    current = max(files, key=lambda p: p.stat().st_mtime)
    resources = json.loads(current.read_text())["checkpoint"]["latest"]["resources"]
    db = next(r for r in resources if r["urn"].endswith("::orders-db"))
    for key in ("password", "connection_uri"):
        assert "ciphertext" in db["outputs"][key], f"{key} is not stored as a secret"


def test_env_change_updates_in_place_and_rolls_pods(stack: auto.Stack, client: Client, desired: Desired) -> None:
    db_id = stack.outputs()["db_id"].value
    before = pod_uids(client, db_id)
    desired.db["env"] = {"POSTGRES_DB": "orders", "TZ": "Europe/Paris"}
    result = stack.up(on_output=print)
    assert result.summary.resource_changes.get("update") == 1
    assert stack.outputs()["db_id"].value == db_id, "an env change never replaces the service"
    after = wait_for(
        lambda: (u := pod_uids(client, db_id)) and set(u.values()).isdisjoint(before.values()) and u,
        60,
        "new pods",
    )
    assert set(after) == set(before)


def test_restart_trigger_rolls_pods_without_other_changes(stack: auto.Stack, client: Client, desired: Desired) -> None:
    db_id = stack.outputs()["db_id"].value
    before = pod_uids(client, db_id)
    desired.db["restart_trigger"] = "rotate-1"
    result = stack.up(on_output=print)
    assert result.summary.resource_changes.get("update") == 1
    after = wait_for(
        lambda: (u := pod_uids(client, db_id)) and set(u.values()).isdisjoint(before.values()) and u, 60, "new pods"
    )
    assert set(after) == set(before)


def test_credentials_rotation_gives_new_secret_passwords(stack: auto.Stack, desired: Desired) -> None:
    before = stack.outputs()
    desired.db["credentials_rotation"] = "2026-11"
    result = stack.up(on_output=print)
    assert result.summary.resource_changes.get("update") == 1
    after = stack.outputs()
    assert after["db_password"].secret and after["db_password"].value != before["db_password"].value
    assert after["db_uri"].value != before["db_uri"].value
    assert after["db_id"].value == before["db_id"].value


def test_refresh_reports_out_of_band_scale_and_up_restores(stack: auto.Stack, client: Client) -> None:
    cache_id = stack.outputs()["cache_id"].value
    sts = next(iter(client.list(StatefulSet, namespace="*", labels={LABEL_SERVICE_ID: cache_id})))
    client.patch(StatefulSet, cache_id, {"spec": {"replicas": 3}}, namespace=sts.metadata.namespace)
    refresh = stack.refresh(on_output=print)
    assert refresh.summary.resource_changes.get("update") == 1, refresh.stdout
    preview = stack.preview(on_output=print, diff=True)
    assert preview.change_summary.get("update") == 1
    stack.up(on_output=print)
    restored = client.get(StatefulSet, cache_id, namespace=sts.metadata.namespace)
    assert restored.spec.replicas == 1


def test_refresh_drops_a_service_deleted_behind_pulumis_back(stack: auto.Stack, client: Client) -> None:
    cache_id = stack.outputs()["cache_id"].value
    sts = next(iter(client.list(StatefulSet, namespace="*", labels={LABEL_SERVICE_ID: cache_id})))
    namespace = sts.metadata.namespace
    # What `kubectl delete all,secret,pvc,networkpolicy -l <service id>` would do.
    for kind in (StatefulSet, Secret, Service, NetworkPolicy, PersistentVolumeClaim):
        for obj in client.list(kind, namespace=namespace, labels={LABEL_SERVICE_ID: cache_id}):
            client.delete(kind, obj.metadata.name, namespace=namespace)
    refresh = stack.refresh(on_output=print)
    assert refresh.summary.resource_changes.get("delete") == 1, refresh.stdout
    result = stack.up(on_output=print)
    assert result.summary.resource_changes.get("create") == 1
    new_id = stack.outputs()["cache_id"].value
    assert next(iter(client.list(StatefulSet, namespace="*", labels={LABEL_SERVICE_ID: new_id})))


def test_slug_change_is_a_replace(stack: auto.Stack, client: Client, desired: Desired) -> None:
    old_id = stack.outputs()["cache_id"].value
    desired.cache = {"slug": "postgres-16", "instances": 1}
    preview = stack.preview(on_output=print, diff=True)
    assert preview.change_summary.get("replace") == 1, preview.stdout
    stack.up(on_output=print)
    assert stack.outputs()["cache_slug"].value == "postgres-16"
    assert stack.outputs()["cache_id"].value != old_id
    assert not list(client.list(StatefulSet, namespace="*", labels={LABEL_SERVICE_ID: old_id}))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"slug": "mysql-8"}, "slug"),
        ({"volume_size": "1Gi"}, "volume_size"),
        ({"instances": 9}, "instances"),
        ({"env": {"BAD-NAME": "x"}}, "env"),
    ],
)
def test_bad_input_fails_preview_naming_the_field(
    stack: auto.Stack, client: Client, desired: Desired, change: dict[str, Any], field: str
) -> None:
    saved = dict(desired.db)
    before = {s.metadata.name for s in ours(client, StatefulSet, desired.workspace)}
    desired.db = {**desired.db, **change}
    try:
        with pytest.raises(auto.CommandError) as raised:
            stack.preview(on_output=print)
        assert field in str(raised.value)
    finally:
        desired.db = saved
    assert {s.metadata.name for s in ours(client, StatefulSet, desired.workspace)} == before


def test_destroy_leaves_nothing(stack: auto.Stack, client: Client, desired: Desired) -> None:
    stack.destroy(on_output=print)
    for kind in (StatefulSet, Secret, Service, PersistentVolumeClaim, Pod):
        wait_for(lambda kind=kind: not ours(client, kind, desired.workspace), 60, f"no {kind.__name__} left")
