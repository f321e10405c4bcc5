"""The dynamic provider behind `ManagedService`: Pulumi's hooks mapped onto engine operations.

The provider object is pickled into the state and unpickled for every later operation
(refresh and destroy included), so it holds nothing but the stack's connection settings, set
by `configure`; the engine and its Kubernetes client are built inside each hook.

- check   fills defaults, canonicalises, and returns one failure per bad field (no cluster needed)
- diff    replaces on workspace/project/slug changes (delete first: names would collide),
          otherwise reports exactly the inputs that changed
- create  creates and waits until ready, within the `timeout` input
- read    rebuilds outputs AND inputs from the live objects (drift shows in refresh); a
          service deleted behind Pulumi's back returns a blank id, which drops it from state
- update  applies every in-place change; a new `restart_trigger` rolls the instances, a new
          `credentials_rotation` replaces the generated passwords (and rolls them out)
- delete  removes everything, volumes included
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from typing import Any

from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)

from managed_services import Conflict, ManagedServices, NotFound, ServiceDetails
from managed_services import ManagedService as Service

from . import _inputs

SECRET_OUTPUTS = ("password", "connection_uri")
OWNER_KEY = _inputs.OWNER_KEY


class ManagedServiceProvider(ResourceProvider):
    def __init__(self) -> None:
        super().__init__()
        self.kubeconfig: str | None = None
        self.context: str | None = None

    def configure(self, req: ConfigureRequest) -> None:
        # Stack config wins; otherwise the engine falls back to KUBECONFIG / ~/.kube/config.
        self.kubeconfig = req.config.get("managed-services:kubeconfig") or None
        self.context = req.config.get("managed-services:context") or None

    def _engine(self) -> ManagedServices:
        return ManagedServices(getattr(self, "kubeconfig", None), getattr(self, "context", None))

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        inputs = _inputs.canonical(news)
        problems = _inputs.failures(_olds, inputs)
        return CheckResult(
            inputs,
            [CheckFailure(_top_level(e.field), str(e)) for e in problems],
        )

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # olds are the previous outputs; they hold the canonical inputs under the same keys.
        news = _inputs.canonical(news)
        changed = [
            key
            for key in (*_inputs.REPLACE_KEYS, *_inputs.UPDATE_KEYS, "timeout")
            if _inputs.is_unknown(news.get(key)) or news.get(key) != olds.get(key)
        ]
        replaces = [key for key in changed if key in _inputs.REPLACE_KEYS]
        return DiffResult(
            changes=bool(changed),
            replaces=replaces,
            stables=[key for key in _inputs.REPLACE_KEYS if key not in replaces],
            delete_before_replace=True,
        )

    def create(self, props: dict[str, Any]) -> CreateResult:
        inputs = _inputs.canonical(props)
        owner = props.get(OWNER_KEY)
        with self._engine() as engine:
            try:
                service_id = engine.create(
                    workspace_id=inputs["workspace_id"],
                    project_id=inputs["project_id"],
                    name=inputs["name"],
                    slug=inputs["slug"],
                    owner=owner,
                    **_settings(inputs),
                ).id
            except Conflict:
                # A create that failed after the objects existed (a timeout, say) left no state
                # in Pulumi: the retry adopts the service this very resource made, nothing else.
                service_id = self._adopt(engine, inputs, owner)
            details = engine.describe(service_id, show_secrets=True)
            return CreateResult(details.service.id, _outputs(inputs, details, engine))

    def _adopt(self, engine: ManagedServices, inputs: dict[str, Any], owner: str | None) -> str:
        existing = engine.find(
            workspace_id=inputs["workspace_id"], project_id=inputs["project_id"], name=inputs["name"]
        )
        if existing is None or owner is None or existing.owner != owner or existing.slug != inputs["slug"]:
            raise Conflict(
                f"name: a managed service named {inputs['name']!r} already exists in project "
                f"{inputs['project_id']!r} and was not created by this resource; choose another name"
            )
        engine.update(existing.id, **_settings(inputs))
        return existing.id

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        with self._engine() as engine:
            try:
                details = engine.describe(id_, show_secrets=True)
            except NotFound:
                return ReadResult(None, {})
            inputs = _live_inputs(details.service, props)
            return ReadResult(id_, _outputs(inputs, details, engine), inputs)

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        inputs = _inputs.canonical(news)
        with self._engine() as engine:
            engine.update(id_, name=inputs["name"], **_settings(inputs))
            if inputs["credentials_rotation"] != (olds.get("credentials_rotation") or ""):
                engine.rotate_credentials(id_)
                engine.wait(id_, timeout=float(inputs["timeout"]), progress=_progress(inputs))
            elif inputs["restart_trigger"] != (olds.get("restart_trigger") or ""):
                engine.restart(id_)
                engine.wait(id_, timeout=float(inputs["timeout"]), progress=_progress(inputs))
            return UpdateResult(_outputs(inputs, engine.describe(id_, show_secrets=True), engine))

    def delete(self, id_: str, _props: dict[str, Any]) -> None:
        with self._engine() as engine, contextlib.suppress(NotFound):  # already gone: the goal is reached
            engine.delete(id_)


def _settings(inputs: dict[str, Any]) -> dict[str, Any]:
    """What create and update both apply, and how they wait for it."""
    return {
        "env": inputs["env"],
        "volume_size": inputs["volume_size"],
        "resources": inputs["resources"],
        "tags": inputs["tags"],
        "instances": inputs["instances"],
        "wait": True,
        "timeout": float(inputs["timeout"]),
        "progress": _progress(inputs),
    }


def _progress(inputs: dict[str, Any]) -> Callable[[str], None]:
    """Progress while waiting. `pulumi.log` does not work inside a dynamic provider
    (pulumi/pulumi#20409); the engine shows the provider's stderr as diagnostics instead."""
    name = inputs.get("name")

    def say(line: str) -> None:
        print(f"{name}: {line}", file=sys.stderr, flush=True)

    return say


def _top_level(field: str) -> str:
    return field.split(".", 1)[0].split("[", 1)[0]


def _live_inputs(service: Service, props: dict[str, Any]) -> dict[str, Any]:
    """Inputs as the cluster has them, so `refresh` shows drift and `up` puts it right."""
    return {
        "workspace_id": service.workspace_id,
        "project_id": service.project_id,
        "slug": service.slug,
        "name": service.name,
        "env": dict(service.env),
        "volume_size": service.volume_size,
        "resources": service.resources.model_dump(exclude_none=True),
        "tags": list(service.tags),
        "instances": service.instances,
        "restart_trigger": props.get("restart_trigger") or "",
        "credentials_rotation": props.get("credentials_rotation") or "",
        OWNER_KEY: props.get(OWNER_KEY) or service.owner,
        "timeout": props.get("timeout") or _inputs.DEFAULT_TIMEOUT_SECONDS,
    }


def _outputs(inputs: dict[str, Any], details: ServiceDetails, engine: ManagedServices) -> dict[str, Any]:
    service = details.service
    offering = engine.catalog.get(service.slug)
    conn = service.connection
    return {
        **inputs,
        "managed_service_id": service.id,
        "namespace": service.namespace,
        "image": service.image,
        "host": conn.host,
        "port": conn.port,
        "username": conn.username,
        "password": conn.password,
        "connection_uri": conn.uri,
        "read_only_host": conn.read_only_host,
        # Every env var the service runs with, secret values hidden.
        "effective_env": {
            key: ("[secret]" if offering.is_secret_env(key) else value) for key, value in details.effective_env.items()
        },
        "volume_size": service.volume_size,
        "resources": service.resources.model_dump(exclude_none=True),
        "tags": list(service.tags),
        "instances": service.instances,
        "status": details.status.phase,
    }
