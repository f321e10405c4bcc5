"""A missing or unreachable cluster gives a clear error, not a traceback from deep inside."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import yaml

from managed_services import KubernetesUnavailable, ManagedServices


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_missing_kubeconfig_file_names_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(KubernetesUnavailable) as raised:
        ManagedServices(missing).get("orders-db-abcde")
    assert str(missing) in str(raised.value)
    assert "KUBECONFIG" in str(raised.value)


def test_unreachable_cluster_says_so(tmp_path: Path) -> None:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": f"https://127.0.0.1:{free_port()}"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "x",
    }
    path = tmp_path / "kubeconfig.yaml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(KubernetesUnavailable) as raised:
        ManagedServices(path).get("orders-db-abcde")
    assert "cannot reach the Kubernetes API" in str(raised.value)
    # Kubeconfig content works the same as a path.
    with pytest.raises(KubernetesUnavailable, match="cannot reach"):
        ManagedServices(path.read_text()).get("orders-db-abcde")


def test_unknown_context_is_named(tmp_path: Path) -> None:
    path = tmp_path / "kubeconfig.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    with pytest.raises(KubernetesUnavailable, match="staging"):
        ManagedServices(path, context="staging").get("orders-db-abcde")
