from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from managed_services.catalog import load_catalog
from managed_services.errors import FieldError, InvalidInput
from managed_services.spec import Resources, ServiceSpec
from managed_services.validation import check_create, check_update, raise_if_invalid, split_immutable

CATALOG = load_catalog(Path(__file__).resolve().parents[2] / "offerings")

GOOD_CREATE: dict[str, Any] = {
    "workspace_id": "acme",
    "project_id": "shop",
    "name": "orders",
    "slug": "postgres-16",
    "env": {"TZ": "UTC", "POSTGRES_USER": "shop"},
    "volume_size": "10Gi",
    "tags": ["team:payments", "env/prod"],
    "resources": {"cpu": "500m", "memory": "1Gi"},
    "instances": 2,
}

CURRENT = {
    "postgres-16": ServiceSpec(
        workspace_id="acme",
        project_id="shop",
        service_id="orders-abcde",
        name="orders",
        slug="postgres-16",
        env_overrides={"POSTGRES_USER": "shop", "POSTGRES_PASSWORD": "s3cret-password"},
        volume_size="2Gi",
        instances=1,
    ),
    "minio": ServiceSpec(
        workspace_id="acme",
        project_id="shop",
        service_id="files-abcde",
        name="files",
        slug="minio",
        volume_size="10Gi",
    ),
}


def create(**changes: Any) -> list[FieldError]:
    return check_create(CATALOG, **{**GOOD_CREATE, **changes})


def update(slug: str = "postgres-16", **changes: Any) -> list[FieldError]:
    return check_update(CATALOG.get(slug), CURRENT[slug], **changes)


def test_good_inputs_pass() -> None:
    assert create() == []
    assert create(env=None, volume_size=None, tags=None, resources=None) == []
    assert create(slug="minio", instances=1, env={"MINIO_ROOT_USER": "abc", "MINIO_ROOT_PASSWORD": "12345678"}) == []
    assert create(instances=0) == []
    assert update() == []
    assert update(volume_size="2Gi", instances=5, name="orders-v2") == []
    # Restating the current override (or the default of an absent one) is not a change.
    assert update(env={"POSTGRES_USER": "shop", "POSTGRES_DB": "app"}) == []
    # A new password is allowed: the offering rotates it on restart.
    assert update(env={"POSTGRES_USER": "shop", "POSTGRES_PASSWORD": "another-password"}) == []


def create_case(field: str, fragment: str, **changes: Any) -> Any:
    return pytest.param("create", None, changes, field, fragment, id=f"create-{field}-{fragment[:30]}")


def update_case(field: str, fragment: str, slug: str = "postgres-16", **changes: Any) -> Any:
    return pytest.param("update", slug, changes, field, fragment, id=f"update-{slug}-{field}-{fragment[:30]}")


BAD_INPUTS = [
    create_case("workspace_id", "lowercase DNS label", workspace_id="Acme"),
    create_case("workspace_id", "at most 20 characters", workspace_id="a" * 21),
    create_case("workspace_id", "must be a string", workspace_id=None),
    create_case("project_id", "must not contain '--'", project_id="shop--eu"),
    create_case("project_id", "must not be empty", project_id=""),
    create_case("name", "must not be empty", name=""),
    create_case("name", "lowercase DNS label", name="Orders DB"),
    create_case("name", "starting with a letter", name="1orders"),
    create_case("name", "at most 40 characters", name="a" * 41),
    create_case("slug", "unknown offering 'mysql-8'; known: minio, postgres-16, valkey-8", slug="mysql-8"),
    create_case("env", "must be a mapping", env=["TZ=UTC"]),
    create_case("env.PGDATA", "is set by the offering and cannot be overridden", env={"PGDATA": "/tmp/x"}),
    create_case("env.1X", "not a valid variable name", env={"1X": "a"}),
    create_case("env.MY-VAR", "not a valid variable name", env={"MY-VAR": "a"}),
    create_case("env.MS_DEBUG", "reserved for managed-services", env={"MS_DEBUG": "1"}),
    create_case("env.TZ", "must be a string", env={"TZ": 5}),
    create_case("env.TZ", "must not contain NUL", env={"TZ": "U\0TC"}),
    create_case("env.BIG", "at most 32 KiB", env={"BIG": "x" * (32 * 1024 + 1)}),
    create_case("env.POSTGRES_PASSWORD", "at least 8 characters", env={"POSTGRES_PASSWORD": "short"}),
    create_case("env.POSTGRES_PASSWORD", "control characters", env={"POSTGRES_PASSWORD": "line1\nline2"}),
    create_case("env.POSTGRES_USER", "lowercase PostgreSQL role name", env={"POSTGRES_USER": "Admin"}),
    create_case("env.POSTGRES_USER", "not 'replicator'", env={"POSTGRES_USER": "replicator"}),
    create_case("env.POSTGRES_INITDB_ARGS", "must not set authentication", env={"POSTGRES_INITDB_ARGS": "-A md5"}),
    create_case(
        "env.MINIO_ROOT_USER",
        "at least 3 characters",
        slug="minio",
        instances=1,
        env={"MINIO_ROOT_USER": "ab"},
    ),
    create_case(
        "env.MINIO_ROOT_PASSWORD",
        "at least 8 characters",
        slug="minio",
        instances=1,
        env={"MINIO_ROOT_PASSWORD": "1234567"},
    ),
    create_case(
        "env.MINIO_ROOT_USER",
        "must not contain '='",
        slug="minio",
        instances=1,
        env={"MINIO_ROOT_USER": "a=bc"},
    ),
    create_case("volume_size", "whole number of Mi, Gi or Ti", volume_size="10G"),
    create_case("volume_size", "must be at least 1Gi", volume_size="512Mi"),
    create_case("volume_size", "must be at most 16Ti", volume_size="17Ti"),
    create_case("volume_size", "must be a string", volume_size=10),
    create_case("resources", "must be a mapping", resources="500m"),
    create_case("resources.gpu", "only cpu and memory can be set", resources={"gpu": "1"}),
    create_case("resources.cpu", "must be more than 0", resources={"cpu": "0"}),
    create_case("resources.cpu", "at most 64 cores", resources={"cpu": "65"}),
    create_case("resources.cpu", "cores like 0.5 or 2, or millicores like 500m", resources={"cpu": "fast"}),
    create_case("resources.memory", "at least 64Mi", resources={"memory": "32Mi"}),
    create_case("resources.memory", "at most 1Ti", resources={"memory": "2Ti"}),
    create_case("resources.memory", "whole number of Mi, Gi or Ti", resources={"memory": "1GB"}),
    create_case("tags", "at most 20 tags", tags=[f"t{i}" for i in range(21)]),
    create_case("tags", "must be a list of strings", tags="prod"),
    create_case("tags[1]", "is repeated", tags=["prod", "prod"]),
    create_case("tags[0]", "lowercase letters, digits", tags=["Prod"]),
    create_case("tags[0]", "starting and ending with a letter or digit", tags=["-prod"]),
    create_case("instances", "must be a whole number", instances=True),
    create_case("instances", "must be a whole number", instances="2"),
    create_case("instances", "must be 0 or more", instances=-1),
    create_case("instances", "at most 5 for PostgreSQL 16", instances=6),
    create_case("instances", "MinIO cannot scale by replica count", slug="minio", instances=2),
    create_case("env.VALKEY_PASSWORD", "at least 8 characters", slug="valkey-8", env={"VALKEY_PASSWORD": "-"}),
    update_case("volume_size", "cannot shrink from 2Gi to 1Gi; volumes only grow", volume_size="1Gi"),
    update_case("volume_size", "cannot shrink from 2Gi to 1536Mi", volume_size="1536Mi"),
    update_case("env.POSTGRES_USER", "cannot change after create", env={"POSTGRES_USER": "other"}),
    update_case("env.POSTGRES_USER", "create a new service", env={}),
    update_case("env.POSTGRES_DB", "cannot change after create", env={"POSTGRES_USER": "shop", "POSTGRES_DB": "x"}),
    update_case("env.PGDATA", "cannot be overridden", env={"POSTGRES_USER": "shop", "PGDATA": "/x"}),
    update_case("instances", "at most 5", instances=6),
    update_case("instances", "must be a whole number", instances=False),
    update_case("name", "lowercase DNS label", name="Orders_2"),
    update_case("resources.memory", "whole number of Mi, Gi or Ti", resources={"memory": "1"}),
    update_case("tags[0]", "must be a string", tags=[1]),
    update_case("instances", "use a larger volume_size or create a separate service", slug="minio", instances=3),
    update_case("env.MINIO_ROOT_PASSWORD", "at least 8 characters", slug="minio", env={"MINIO_ROOT_PASSWORD": "pw"}),
]


@pytest.mark.parametrize(("kind", "slug", "changes", "field", "fragment"), BAD_INPUTS)
def test_bad_input_is_reported_on_its_field(
    kind: str, slug: str | None, changes: dict[str, Any], field: str, fragment: str
) -> None:
    errors = create(**changes) if kind == "create" else update(slug or "postgres-16", **changes)
    assert len(errors) == 1, errors
    assert errors[0].field == field
    assert fragment in errors[0].message


def test_the_table_is_big_enough() -> None:
    assert len(BAD_INPUTS) >= 25
    assert sum(1 for p in BAD_INPUTS if p.values[0] == "update") >= 10


def test_every_failure_is_reported_at_once() -> None:
    errors = check_create(
        CATALOG,
        workspace_id="ACME",
        project_id="shop",
        name="",
        slug="minio",
        env={"HOME": "/root", "MINIO_ROOT_USER": "x", "OK_KEY": "fine"},
        volume_size="1G",
        tags=["a", "a"],
        resources={"cpu": "0", "disk": "1Gi"},
        instances=4,
    )
    assert [e.field for e in errors] == [
        "workspace_id",
        "name",
        "env.HOME",
        "env.MINIO_ROOT_USER",
        "volume_size",
        "tags[1]",
        "resources.disk",
        "resources.cpu",
        "instances",
    ]
    with pytest.raises(InvalidInput) as info:
        raise_if_invalid(errors)
    assert info.value.errors == errors
    assert "env.HOME: is set by the offering and cannot be overridden" in str(info.value)


def test_an_unknown_slug_still_reports_the_other_fields() -> None:
    errors = create(slug="nope", name="Bad", instances=-1)
    assert [e.field for e in errors] == ["name", "slug", "instances"]


def test_immutable_errors_are_separable() -> None:
    errors = update(env={"POSTGRES_USER": "other"}, volume_size="1Gi")
    immutable, other = split_immutable(errors)
    assert [e.field for e in immutable] == ["env.POSTGRES_USER"]
    assert [e.field for e in other] == ["volume_size"]
    raise_if_invalid([])  # nothing to raise


def test_resources_are_canonicalised_for_the_spec() -> None:
    assert Resources.from_input({"cpu": "0.5", "memory": "1024Mi"}) == Resources(cpu="500m", memory="1Gi")
    assert Resources.from_input(None) == Resources()
