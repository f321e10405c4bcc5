from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from managed_services import catalog as catalog_module
from managed_services.catalog import Catalog, default_offerings_dir, load_catalog
from managed_services.errors import CatalogError, InvalidInput
from managed_services.render import effective_env, render_service
from managed_services.spec import ServiceSpec
from tests.unit.pss_restricted import check_pod

REPO_OFFERINGS = Path(__file__).resolve().parents[2] / "offerings"


def _postgres() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO_OFFERINGS / "postgres-16.yaml").read_text())
    return data


def test_repo_catalog_holds_the_three_offerings_sorted() -> None:
    catalog = load_catalog(REPO_OFFERINGS)
    assert catalog.slugs() == ["minio", "postgres-16", "valkey-8"]
    assert [o.slug for o in catalog.offerings()] == ["minio", "postgres-16", "valkey-8"]
    assert "valkey-8" in catalog and "redis" not in catalog
    postgres = catalog.get("postgres-16")
    assert postgres.client_port.port == 5432
    assert "PGDATA" in postgres.env.protected
    assert {"POSTGRES_USER", "POSTGRES_DB"} <= set(postgres.env.immutable)
    assert postgres.is_secret_env("POSTGRES_PASSWORD") and not postgres.is_secret_env("POSTGRES_USER")


def test_unknown_slug_names_the_known_ones() -> None:
    with pytest.raises(InvalidInput) as info:
        load_catalog(REPO_OFFERINGS).get("x")
    assert info.value.field == "slug"
    assert str(info.value) == "slug: unknown offering 'x'; known: minio, postgres-16, valkey-8"


def test_images_are_pinned_and_minio_carries_its_supply_caveat() -> None:
    catalog = load_catalog(REPO_OFFERINGS)
    assert catalog.get("minio").image == "quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z"
    assert "CVE-2025-62506" in catalog.get("minio").notes
    for offering in catalog.offerings():
        assert not offering.image.endswith(":latest")


def test_default_catalog_is_cached_and_env_overridable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(catalog_module.ENV_VAR, raising=False)
    assert default_offerings_dir().resolve() == REPO_OFFERINGS
    assert load_catalog() is load_catalog()

    (tmp_path / "valkey-8.yaml").write_text((REPO_OFFERINGS / "valkey-8.yaml").read_text())
    monkeypatch.setenv(catalog_module.ENV_VAR, str(tmp_path))
    assert load_catalog().slugs() == ["valkey-8"]


NEW_OFFERING = """
slug: memcached-1
display_name: Memcached 1.6
description: A cache nobody asked for, to prove offerings are data.
image: docker.io/library/memcached:1.6.39-bookworm
container_name: memcached
ports: [{name: memcached, port: 11211, client: true}]
args: [memcached, --port, '{port}', --memory-limit, '64']
storage: {mount_path: /data, default_size: 1Gi}
probes:
  readiness: {command: [sh, -c, 'echo stats | nc -w1 127.0.0.1 11211']}
  liveness: {command: [sh, -c, 'echo stats | nc -w1 127.0.0.1 11211']}
security: {run_as_user: 11211, run_as_group: 11211, fs_group: 11211}
termination_grace_period_seconds: 10
resources: {cpu: 50m, memory: 128Mi}
connection: {uri: 'memcached://{host}:{port}'}
scaling: {max_instances: 1, replicas: none}
"""


def test_a_new_offering_file_loads_and_renders_without_code_changes(tmp_path: Path) -> None:
    (tmp_path / "memcached-1.yaml").write_text(NEW_OFFERING)
    catalog = load_catalog(tmp_path)
    offering = catalog.get("memcached-1")
    spec = ServiceSpec(
        workspace_id="acme",
        project_id="shop",
        service_id="mc-abcde",
        name="mc",
        slug="memcached-1",
        volume_size="1Gi",
    )
    objects = render_service(offering, spec, effective_env(offering, {}, None))
    sts = next(o for o in objects if o["kind"] == "StatefulSet")
    container = sts["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == ["memcached", "--port", "11211", "--memory-limit", "64"]
    assert check_pod(sts["spec"]["template"]["spec"]) == []
    assert [o["kind"] for o in objects] == ["Secret", "NetworkPolicy", "Service", "Service", "StatefulSet"]


Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = data
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        if value is _DELETE:
            del node[last]
        elif last.isdigit():
            node[int(last)] = value
        else:
            node[last] = value

    return mutate


_DELETE = object()


@pytest.mark.parametrize(
    ("mutate", "field", "fragment"),
    [
        (_set("security.run_as_user", "root"), "security.run_as_user", "valid integer"),
        (_set("security.run_as_user", 0), "security.run_as_user", "greater than or equal to 1"),
        (_set("termination_grace_period", 30), "termination_grace_period", "not a known field"),
        (_set("image", _DELETE), "image", "Field required"),
        (_set("image", "docker.io/library/postgres:latest"), "image", "not pinned"),
        (_set("image", "docker.io/library/postgres"), "image", "not pinned"),
        (
            _set("init_containers.0.env.MS_PRIMARY_HOST", "{primary}"),
            "init_containers[0].env.MS_PRIMARY_HOST",
            "{primary}",
        ),
        (_set("ports.0.client", False), "ports", "exactly one port must have client: true"),
        (
            _set("probes.readiness", {"http_get": {"path": "/", "port": "nope"}}),
            "probes.readiness.http_get.port",
            "'nope'",
        ),
        (_set("probes.liveness", {}), "probes.liveness", "exactly one of command and http_get"),
        (_set("storage.default_size", "10G"), "storage.default_size", "not a size"),
        (_set("storage.min_size", "20Gi"), "storage.default_size", "between min_size and max_size"),
        (_set("env.defaults.1BAD", "x"), "env.defaults.1BAD", "environment variable name"),
        (_set("env.rules.POSTGRES_DB.pattern", "(unclosed"), "env.rules.POSTGRES_DB.pattern", "missing )"),
        (_set("connection.uri", "postgresql://{user}@{host}"), "connection.uri", "{user}"),
        (_set("scaling.replicas", "sharded"), "scaling.replicas", "read-replicas"),
        (_set("slug", "postgres"), "slug", "must match the file name 'postgres-16'"),
        (
            _set("security.writable_dirs.0.path", "/var/lib/postgresql/data"),
            "security.writable_dirs[0].path",
            "already mounted",
        ),
        (_set("metrics", ["disk_usage"]), "metrics[0]", "cpu_usage"),
        (_set("files.0.name", "POSTGRES_PASSWORD"), "files", "looks like an env variable name"),
    ],
)
def test_a_bad_offering_names_the_file_and_the_field(
    tmp_path: Path, mutate: Mutation, field: str, fragment: str
) -> None:
    data = copy.deepcopy(_postgres())
    mutate(data)
    path = tmp_path / "postgres-16.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(CatalogError) as info:
        load_catalog(tmp_path)
    fields = [e.field for e in info.value.errors]
    assert f"{path}:{field}" in fields, fields
    assert fragment in str(info.value)
    assert isinstance(info.value, InvalidInput)


def test_invalid_yaml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("slug: [unclosed\n")
    with pytest.raises(CatalogError, match=r"broken\.yaml: is not valid YAML"):
        load_catalog(tmp_path)


def test_a_slug_defined_twice_is_an_error(tmp_path: Path) -> None:
    text = (REPO_OFFERINGS / "minio.yaml").read_text()
    (tmp_path / "minio.yaml").write_text(text)
    (tmp_path / "minio.yml").write_text(text)
    with pytest.raises(CatalogError, match=r"minio\.yml:slug: 'minio' is also defined in .*minio\.yaml"):
        load_catalog(tmp_path)


def test_a_directory_without_offerings_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="holds no offering files"):
        load_catalog(tmp_path)


def test_catalog_is_built_from_models() -> None:
    offerings = load_catalog(REPO_OFFERINGS).offerings()
    assert Catalog(reversed(offerings)).slugs() == ["minio", "postgres-16", "valkey-8"]
