"""Get and list: the cluster is the only store, so a fresh engine (no memory of the creates)
sees the same services, with secret values masked unless asked for."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from managed_services import MASK, InvalidInput, ManagedService, ManagedServices, NotFound

PROJECT = "read"
PASSWORD = "Sup3r-secret-passw0rd"
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Made:
    db: ManagedService
    cache: ManagedService


@pytest.fixture(scope="module")
def made(ms: ManagedServices, workspace: str) -> Made:
    db = ms.create(
        workspace_id=workspace,
        project_id=PROJECT,
        name="orders-db",
        slug="postgres-16",
        env={"POSTGRES_PASSWORD": PASSWORD, "POSTGRES_DB": "orders", "TZ": "Europe/Paris"},
        volume_size="2Gi",
        resources={"cpu": "0.5", "memory": "1024Mi"},
        tags=["team:data", "env/prod"],
        instances=1,
    )
    # creationTimestamp has one-second resolution: keep "oldest first" well defined.
    time.sleep(1.1)
    cache = ms.create(
        workspace_id=workspace, project_id=PROJECT, name="sessions", slug="valkey-8", volume_size="1Gi", instances=2
    )
    return Made(db, cache)


@pytest.fixture
def fresh(kubeconfig: Path) -> Iterator[ManagedServices]:
    """An engine that has never seen the services: all it knows comes from the cluster."""
    with ManagedServices(kubeconfig) as engine:
        yield engine


def test_get_from_a_fresh_engine_returns_the_same_service(made: Made, fresh: ManagedServices) -> None:
    db = fresh.get(made.db.id)
    assert db == made.db
    assert db.name == "orders-db"
    assert db.slug == "postgres-16"
    assert db.image == fresh.catalog.get("postgres-16").image
    assert db.env == {"POSTGRES_DB": "orders", "POSTGRES_PASSWORD": MASK, "TZ": "Europe/Paris"}
    assert db.volume_size == "2Gi"
    assert (db.resources.cpu, db.resources.memory) == ("500m", "1Gi")
    assert db.tags == ["team:data", "env/prod"]
    assert db.instances == 1
    assert db.connection.password == MASK
    assert PASSWORD not in db.connection.uri and MASK in db.connection.uri
    cache = fresh.get(made.cache.id)
    assert cache == made.cache
    assert cache.instances == 2
    assert cache.connection.read_only_host is not None


def test_show_secrets_reveals_the_values(made: Made, fresh: ManagedServices) -> None:
    db = fresh.get(made.db.id, show_secrets=True)
    assert db.env["POSTGRES_PASSWORD"] == PASSWORD
    assert db.env["TZ"] == "Europe/Paris"
    assert db.connection.password == PASSWORD
    assert PASSWORD in db.connection.uri
    cache = fresh.get(made.cache.id, show_secrets=True)
    assert cache.connection.password not in (None, MASK)


def test_list_from_a_fresh_engine_returns_the_project_oldest_first(
    made: Made, fresh: ManagedServices, workspace: str
) -> None:
    listed = fresh.list(workspace_id=workspace, project_id=PROJECT)
    assert listed == [made.db, made.cache]
    revealed = fresh.list(workspace_id=workspace, project_id=PROJECT, show_secrets=True)
    assert [s.env.get("POSTGRES_PASSWORD") for s in revealed] == [PASSWORD, None]


def test_list_of_another_project_does_not_show_them(made: Made, fresh: ManagedServices, workspace: str) -> None:
    assert fresh.list(workspace_id=workspace, project_id="elsewhere") == []


def test_get_of_an_unknown_id_is_not_found(made: Made, fresh: ManagedServices) -> None:
    with pytest.raises(NotFound):
        fresh.get("orders-db-zzzzz")
    with pytest.raises(NotFound):
        fresh.get(made.db.id + "x")
    with pytest.raises(InvalidInput) as raised:
        fresh.get("")
    assert raised.value.field == "id"


def test_effective_env_has_defaults_generated_and_overrides_masked(made: Made, fresh: ManagedServices) -> None:
    env = fresh.effective_env(made.db.id)
    expected = {
        "PGDATA": "/var/lib/postgresql/data/pgdata",
        "POSTGRES_USER": "app",
        "POSTGRES_DB": "orders",
        "POSTGRES_PASSWORD": MASK,
        "REPLICATION_PASSWORD": MASK,
        "TZ": "Europe/Paris",
    }
    assert {key: env.get(key) for key in expected} == expected
    assert not any(key.startswith("MS_") for key in env), "engine-internal keys are not shown"
    revealed = fresh.effective_env(made.db.id, show_secrets=True)
    assert revealed["POSTGRES_PASSWORD"] == PASSWORD
    assert revealed["REPLICATION_PASSWORD"] not in ("", MASK)


def test_effective_env_holds_only_environment_variables(made: Made, fresh: ManagedServices) -> None:
    env = fresh.effective_env(made.db.id)
    files = {f.name for f in fresh.catalog.get("postgres-16").files}
    assert files, "postgres-16 ships files"
    assert sorted(set(env) & files) == []
    assert all(ENV_NAME.fullmatch(key) for key in env), sorted(env)


def test_describe_is_get_effective_env_and_status_from_one_lookup(made: Made, fresh: ManagedServices) -> None:
    fresh.kube.stats.reset()
    details = fresh.describe(made.cache.id, show_secrets=True)
    # One cluster-wide lookup of the StatefulSet, its Secret, its pods: nothing else.
    assert (fresh.kube.stats.reads, fresh.kube.stats.writes) == (3, 0), list(fresh.kube.stats.log)
    assert details.service == fresh.get(made.cache.id, show_secrets=True)
    assert details.effective_env == fresh.effective_env(made.cache.id, show_secrets=True)
    assert details.status == fresh.status(made.cache.id)
    masked = fresh.describe(made.cache.id)
    assert masked.effective_env["VALKEY_PASSWORD"] == MASK
    assert masked.service.connection.password == MASK
