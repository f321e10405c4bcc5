"""Shared fixtures of the engine's cluster tests (tests/cluster/test_engine_*.py).

Each test module works in workspaces of its own (`eng` + 6 random characters), so modules
never see each other's services, and deletes everything it made at the end: every managed
service of its workspaces (through the engine), then their namespaces.
"""

from __future__ import annotations

import contextlib
import secrets
import string
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from lightkube import Client, KubeConfig
from lightkube.resources.apps_v1 import StatefulSet
from lightkube.resources.core_v1 import Namespace

from managed_services import ManagedServices, NotFound

LABEL_WORKSPACE_ID = "managed-services.io/workspace-id"
LABEL_SERVICE_ID = "managed-services.io/service-id"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"


@pytest.fixture(scope="session")
def kube(kubeconfig: Path) -> Client:
    """A plain lightkube client, to look at what the engine made (never through the engine)."""
    return Client(KubeConfig.from_file(kubeconfig), field_manager="engine-cluster-tests")


@pytest.fixture(scope="module")
def ms(kubeconfig: Path) -> Iterator[ManagedServices]:
    """The engine under test, shared by one module's tests."""
    engine = ManagedServices(kubeconfig)
    yield engine
    engine.close()


def _new_workspace_id() -> str:
    alphabet = string.ascii_lowercase + string.digits
    return "eng" + "".join(secrets.choice(alphabet) for _ in range(6))


@pytest.fixture(scope="module")
def workspaces(kube: Client, kubeconfig: Path) -> Iterator[Callable[[str], str]]:
    """Make workspace ids for this module; `workspaces(suffix)` appends `suffix` (may contain '-').

    Teardown deletes every service of the workspaces whose id starts with one made here (so a
    test may derive more ids from one, `<id>-x`), then their namespaces.
    """
    made: list[str] = []

    def new(suffix: str) -> str:
        workspace_id = _new_workspace_id() + suffix
        made.append(workspace_id)
        return workspace_id

    yield new
    with ManagedServices(kubeconfig) as engine:
        for ns in kube.list(Namespace, labels={LABEL_MANAGED_BY: "managed-services"}):
            assert ns.metadata is not None and ns.metadata.name is not None
            owner = (ns.metadata.labels or {}).get(LABEL_WORKSPACE_ID, "")
            if not any(owner.startswith(prefix) for prefix in made):
                continue
            for sts in kube.list(
                StatefulSet, namespace=ns.metadata.name, labels={LABEL_MANAGED_BY: "managed-services"}
            ):
                service_id = (sts.metadata.labels or {}).get(LABEL_SERVICE_ID) if sts.metadata else None
                if service_id:
                    with contextlib.suppress(NotFound):
                        engine.delete(service_id, timeout=60)
            kube.delete(Namespace, ns.metadata.name)


@pytest.fixture(scope="module")
def workspace(workspaces: Callable[[str], str]) -> str:
    """This module's workspace id."""
    return workspaces("")
