from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from managed_services.catalog import load_catalog
from managed_services.connection import connection_info
from managed_services.render import effective_env
from managed_services.spec import ServiceSpec

CATALOG = load_catalog(Path(__file__).resolve().parents[2] / "offerings")


def spec(slug: str, instances: int = 1) -> ServiceSpec:
    return ServiceSpec(
        workspace_id="acme",
        project_id="shop",
        service_id="db-abcde",
        name="db",
        slug=slug,
        volume_size="1Gi",
        instances=instances,
    )


def test_postgres_connection() -> None:
    offering = CATALOG.get("postgres-16")
    env = effective_env(offering, {"POSTGRES_DB": "orders"}, None)
    conn = connection_info(offering, spec("postgres-16"), env)
    assert conn.host == "db-abcde.ms-acme-shop.svc.cluster.local"
    assert conn.port == 5432
    assert (conn.username, conn.password, conn.database) == ("app", env["POSTGRES_PASSWORD"], "orders")
    assert (
        conn.uri == f"postgresql://app:{env['POSTGRES_PASSWORD']}@db-abcde.ms-acme-shop.svc.cluster.local:5432/orders"
    )
    assert conn.read_only_host is None, "no read-only endpoint without replicas"
    with_replicas = connection_info(offering, spec("postgres-16", instances=2), env)
    assert with_replicas.read_only_host == "db-abcde-ro.ms-acme-shop.svc.cluster.local"


def test_password_is_url_quoted_so_the_uri_still_parses() -> None:
    offering = CATALOG.get("postgres-16")
    password = "p@ss:w/o%rd?#&"
    env = effective_env(offering, {"POSTGRES_PASSWORD": password}, None)
    conn = connection_info(offering, spec("postgres-16"), env, cluster_domain="k8s.example")
    parts = urlsplit(conn.uri)
    assert parts.hostname == "db-abcde.ms-acme-shop.svc.k8s.example"
    assert parts.port == 5432 and parts.path == "/app"
    assert unquote(parts.password or "") == password
    assert conn.password == password  # the raw value, for clients that take it separately


def test_valkey_connection_has_no_username() -> None:
    offering = CATALOG.get("valkey-8")
    env = effective_env(offering, {"VALKEY_PASSWORD": "a b:c"}, None)
    conn = connection_info(offering, spec("valkey-8"), env)
    assert conn.uri == "redis://:a%20b%3Ac@db-abcde.ms-acme-shop.svc.cluster.local:6379/0"
    assert conn.username is None and conn.database is None
    assert conn.read_only_host is None, "no read-only endpoint without replicas"
    with_replicas = connection_info(offering, spec("postgres-16", instances=2), env)
    assert with_replicas.read_only_host == "db-abcde-ro.ms-acme-shop.svc.cluster.local"


def test_minio_connection_is_the_s3_endpoint_with_access_and_secret_keys() -> None:
    offering = CATALOG.get("minio")
    env = effective_env(offering, {}, None)
    conn = connection_info(offering, spec("minio"), env)
    assert conn.uri == "http://db-abcde.ms-acme-shop.svc.cluster.local:9000"
    assert conn.port == 9000
    assert (conn.username, conn.password) == (env["MINIO_ROOT_USER"], env["MINIO_ROOT_PASSWORD"])
    assert conn.read_only_host is None


def test_repr_hides_the_password() -> None:
    offering = CATALOG.get("valkey-8")
    env = effective_env(offering, {}, None)
    conn = connection_info(offering, spec("valkey-8"), env)
    assert env["VALKEY_PASSWORD"] not in repr(conn)
