"""How a client in the project reaches a managed service. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field

from . import naming
from .catalog import Offering
from .spec import ServiceSpec


class Connection(BaseModel):
    """Endpoint and credentials of a service. `password` and `uri` are left out of repr()."""

    model_config = ConfigDict(frozen=True)

    host: str
    """The client Service (instance 0, the primary): `<id>.<namespace>.svc.<cluster domain>`."""
    port: int
    username: str | None
    password: str | None = Field(repr=False)
    database: str | None = None
    uri: str = Field(repr=False)
    """The offering's URI template filled in; credentials are percent-encoded."""
    read_only_host: str | None = None
    """The `-ro` Service (all instances, primary included), for offerings with read replicas."""


def connection_info(
    offering: Offering, spec: ServiceSpec, env: Mapping[str, str], cluster_domain: str = "cluster.local"
) -> Connection:
    """Connection details from the service's effective env (see `render.effective_env`)."""
    names = naming.object_names(spec.service_id)
    namespace = naming.namespace_name(spec.workspace_id, spec.project_id)
    host = f"{names.client_service}.{namespace}.svc.{cluster_domain}"
    conn = offering.connection

    def value(key: str | None) -> str | None:
        return env.get(key) if key is not None else None

    username, password, database = (
        value(conn.username_env),
        value(conn.password_env),
        value(conn.database_env),
    )
    port = offering.client_port.port
    uri = conn.uri.format(
        # safe="" so ':', '@', '/' and '%' inside credentials cannot change the URI's structure.
        username=quote(username or "", safe=""),
        password=quote(password or "", safe=""),
        database=quote(database or "", safe=""),
        host=host,
        port=port,
    )
    read_only_host = (
        f"{names.read_only_service}.{namespace}.svc.{cluster_domain}"
        if offering.has_read_replicas and spec.instances > 1
        else None
    )
    return Connection(
        host=host,
        port=port,
        username=username,
        password=password,
        database=database,
        uri=uri,
        read_only_host=read_only_host,
    )
