"""A create that failed after its objects existed leaves nothing in the Pulumi state; the next
`pulumi up` must converge by adopting that service, and only a service this resource made."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pulumi
import pytest
from pulumi import automation as auto

from examples._stack import open_stack
from managed_services import ManagedServices
from pulumi_managed_services import ManagedService

PROJECT_DIR = Path(__file__).resolve().parents[2] / "examples" / "python-quickstart"
PROJECT_NAME = "managed-services-quickstart"


@pytest.fixture
def workspace(kubeconfig: Path) -> Iterator[str]:
    workspace = f"retry{uuid.uuid4().hex[:6]}"
    yield workspace
    with ManagedServices(kubeconfig) as ms:
        for service in ms.list(workspace_id=workspace, project_id="p"):
            ms.delete(service.id)


def stack_for(kubeconfig: Path, workspace: str) -> auto.Stack:
    def program() -> None:
        cache = ManagedService("cache", workspace_id=workspace, project_id="p", slug="valkey-8", volume_size="1Gi")
        pulumi.export("id", cache.managed_service_id)

    return open_stack(PROJECT_DIR, f"retry-{workspace}", kubeconfig=kubeconfig, program=program)


def test_up_adopts_the_service_its_failed_create_left(kubeconfig: Path, workspace: str) -> None:
    stack = stack_for(kubeconfig, workspace)
    try:
        with ManagedServices(kubeconfig) as ms:
            # What a create that timed out waiting leaves behind.
            left = ms.create(
                workspace_id=workspace,
                project_id="p",
                name="cache",
                slug="valkey-8",
                volume_size="1Gi",
                wait=False,
                owner=f"{PROJECT_NAME}/{stack.name}/cache",
            )
        result = stack.up(on_output=print)
        assert result.outputs["id"].value == left.id
        with ManagedServices(kubeconfig) as ms:
            assert [s.id for s in ms.list(workspace_id=workspace, project_id="p")] == [left.id]
        stack.destroy(on_output=print)
    finally:
        stack.workspace.remove_stack(stack.name, force=True)


def test_up_never_adopts_someone_elses_service(kubeconfig: Path, workspace: str) -> None:
    stack = stack_for(kubeconfig, workspace)
    try:
        with ManagedServices(kubeconfig) as ms:
            ms.create(workspace_id=workspace, project_id="p", name="cache", slug="valkey-8", volume_size="1Gi")
        with pytest.raises(auto.CommandError) as raised:
            stack.up(on_output=print)
        assert "was not created by this resource" in str(raised.value)
    finally:
        stack.workspace.remove_stack(stack.name, force=True)
