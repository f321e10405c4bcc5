"""Test layers: unmarked tests need nothing; `cluster` needs Kubernetes; `e2e` needs Kubernetes
and the Pulumi CLI. Tests under tests/cluster and tests/e2e are marked by their folder.

The cluster is `MANAGED_SERVICES_TEST_KUBECONFIG` when set (any real cluster, kind included),
otherwise the local testbed, started on demand and stopped at the end of the session if this
session started it (set MANAGED_SERVICES_KEEP_TESTBED=1 to keep it for the next run).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_FOLDER_MARKERS = {"cluster": "cluster", "e2e": "e2e"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).parts
        for folder, marker in _FOLDER_MARKERS.items():
            if folder in parts and "tests" in parts:
                item.add_marker(getattr(pytest.mark, marker))


@pytest.fixture(scope="session")
def kubeconfig() -> Iterator[Path]:
    """Path of a kubeconfig for a live cluster."""
    external = os.environ.get("MANAGED_SERVICES_TEST_KUBECONFIG")
    if external:
        yield Path(external)
        return
    from tests.testbed import cluster

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    already_up = cluster.status().running
    path = cluster.up(log=log)
    yield path
    if not already_up and not os.environ.get("MANAGED_SERVICES_KEEP_TESTBED"):
        cluster.down(log=log)


@pytest.fixture(scope="session")
def testbed_bin() -> Path:
    """The directory of the testbed's built tools (kubectl, pulumi, ...), building what is missing."""
    from tests.testbed import tools

    return tools.ensure_built()


@pytest.fixture(scope="session")
def pulumi_env(testbed_bin: Path) -> dict[str, str]:
    """Environment for the real Pulumi CLI: offline, file backend, isolated PULUMI_HOME."""
    from tests.testbed import pulumi_env as env

    return env.pulumi_env(dict(os.environ))
