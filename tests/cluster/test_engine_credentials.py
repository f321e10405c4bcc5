"""Credential rotation: new generated passwords reach the Secret, and every instance restarts
with them (the PostgreSQL hook that applies them to a running server is tested against a real
server in tests/unit/test_postgres_password_rotation.py)."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from lightkube import Client, KubeConfig
from lightkube.resources.core_v1 import Pod

from managed_services import InvalidInput, ManagedServices

LABEL_SERVICE_ID = "managed-services.io/service-id"


WORKSPACE = f"rot{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module")
def ms(kubeconfig: Path) -> Iterator[ManagedServices]:
    with ManagedServices(kubeconfig) as engine:
        yield engine
        for service in engine.list(workspace_id=WORKSPACE, project_id="p"):
            engine.delete(service.id)


def pod_uids(kubeconfig: Path, service_id: str) -> set[str]:
    client = Client(KubeConfig.from_file(kubeconfig))
    return {p.metadata.uid for p in client.list(Pod, namespace="*", labels={LABEL_SERVICE_ID: service_id})}


def test_rotation_replaces_generated_passwords_and_rolls_instances(ms: ManagedServices, kubeconfig: Path) -> None:
    svc = ms.create(workspace_id=WORKSPACE, project_id="p", name="db", slug="postgres-16", instances=2)
    before = ms.effective_env(svc.id, show_secrets=True)
    uids = pod_uids(kubeconfig, svc.id)
    assert ms.rotate_credentials(svc.id) == ["POSTGRES_PASSWORD", "REPLICATION_PASSWORD"]
    ms.wait(svc.id, timeout=120)
    after = ms.effective_env(svc.id, show_secrets=True)
    for key in ("POSTGRES_PASSWORD", "REPLICATION_PASSWORD"):
        assert after[key] != before[key] and len(after[key]) == len(before[key])
    assert {k: v for k, v in after.items() if "PASSWORD" not in k} == {
        k: v for k, v in before.items() if "PASSWORD" not in k
    }
    assert ms.get(svc.id, show_secrets=True).connection.password == after["POSTGRES_PASSWORD"]
    assert pod_uids(kubeconfig, svc.id).isdisjoint(uids), "every instance restarted"


def test_overridden_credentials_are_left_to_the_user(ms: ManagedServices) -> None:
    svc = ms.create(
        workspace_id=WORKSPACE,
        project_id="p",
        name="cache",
        slug="valkey-8",
        env={"VALKEY_PASSWORD": "chosen-by-the-user-1"},
    )
    ms.kube.stats.reset()
    with pytest.raises(InvalidInput) as raised:
        ms.rotate_credentials(svc.id)
    assert raised.value.field == "env" and "update" in str(raised.value)
    assert ms.kube.stats.writes == 0


def test_cli_rotates_and_reports(ms: ManagedServices, kubeconfig: Path) -> None:
    svc = ms.create(workspace_id=WORKSPACE, project_id="p", name="store", slug="minio")
    before = ms.effective_env(svc.id, show_secrets=True)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "managed_services.cli",
            "--kubeconfig",
            str(kubeconfig),
            "-o",
            "json",
            "rotate-credentials",
            svc.id,
            "--wait",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    envelope = json.loads(out.stdout)
    assert envelope["status"] == "ok" and envelope["data"]["converged"] is True
    after = ms.effective_env(svc.id, show_secrets=True)
    assert after["MINIO_ROOT_PASSWORD"] != before["MINIO_ROOT_PASSWORD"]
    assert after["MINIO_ROOT_USER"] == before["MINIO_ROOT_USER"], "the user name is not a secret: kept"
    assert before["MINIO_ROOT_PASSWORD"] not in out.stdout + out.stderr
