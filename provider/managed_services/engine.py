"""The operations of the service model: list, create, get, update, delete, restart, scale, status.

Kubernetes is the only store. A service is found by the `managed-services.io/service-id`
label on its StatefulSet; its desired spec is the StatefulSet's spec annotation joined with
the env overrides held in its Secret; everything users see (instances, resources, volume
size, image) is read from the live objects, so drift made behind our back shows.

Every write goes through `Kube.apply` (server-side apply, one field manager). Input is
validated completely before the first write; a create that fails half-way deletes what it
applied, so nothing is orphaned and a re-run converges.
"""

from __future__ import annotations

import base64
import builtins
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lightkube.resources.apps_v1 import StatefulSet
from lightkube.resources.core_v1 import (
    Namespace,
    PersistentVolumeClaim,
    Secret,
    Service,
)
from lightkube.resources.networking_v1 import NetworkPolicy
from lightkube.resources.policy_v1 import PodDisruptionBudget
from lightkube.types import CascadeType

from . import naming, observe, quantities, readiness, render, validation
from .catalog import Catalog, Offering, load_catalog
from .connection import connection_info
from .errors import Conflict, Forbidden, Immutable, InvalidInput, NotFound, Timeout
from .kube import Kube, Obj
from .models import (
    MASK,
    ConnectionView,
    LogLine,
    ManagedService,
    MetricSeries,
    ResourcesView,
    ServiceDetails,
    ServiceStatus,
)
from .models import (
    Offering as OfferingView,
)
from .spec import Resources, ServiceSpec

Progress = Callable[[str], None]

DEFAULT_TIMEOUT = 600.0
_POLL_START, _POLL_MAX = 0.25, 2.0
# RBAC authorizers decide from an informer cache, so a RoleBinding takes effect a moment
# after it is written: the first write in a new project namespace may be refused meanwhile.
GRANT_PROPAGATION_TIMEOUT = 30.0

# Kinds a service may own, for pruning and delete; PVCs are handled on their own.
_OWNED_KINDS: dict[str, type[Any]] = {
    "Secret": Secret,
    "Service": Service,
    "NetworkPolicy": NetworkPolicy,
    "PodDisruptionBudget": PodDisruptionBudget,
    "StatefulSet": StatefulSet,
}


@dataclass(frozen=True)
class _Live:
    """A service's objects as read from the cluster."""

    namespace: str
    stateful_set: Obj
    env: dict[str, str]
    spec: ServiceSpec
    created_at: datetime | None


class ManagedServices:
    """The engine. Holds no state but a connection: every call reads the cluster afresh."""

    def __init__(
        self,
        kubeconfig: str | Path | None = None,
        context: str | None = None,
        *,
        catalog: Catalog | None = None,
        prometheus_url: str | None = None,
        rbac_subject: str | None = None,
    ) -> None:
        """
        :param kubeconfig: a kubeconfig path or its content; None uses KUBECONFIG, ~/.kube/config
            or the in-cluster service account.
        :param prometheus_url: range queries for metrics (else metrics.k8s.io's current sample);
            default from MANAGED_SERVICES_PROMETHEUS_URL.
        :param rbac_subject: who to grant the `managed-services-workloads` ClusterRole in each
            project namespace the engine creates (`serviceaccount:<ns>:<name>`, `user:<name>`,
            `group:<name>`); default from MANAGED_SERVICES_RBAC_SUBJECT. See deploy/rbac.yaml.
        """
        self.kube = Kube(kubeconfig, context)
        self.catalog = catalog or load_catalog()
        self._prometheus_url = prometheus_url or os.environ.get("MANAGED_SERVICES_PROMETHEUS_URL") or None
        self._rbac_subject = rbac_subject or os.environ.get("MANAGED_SERVICES_RBAC_SUBJECT") or None
        if self._rbac_subject is not None:
            render.rbac_subject(self._rbac_subject)  # fail now on a malformed subject

    def close(self) -> None:
        self.kube.close()

    def __enter__(self) -> ManagedServices:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- create -------------------------------------------------------------------------

    def create(
        self,
        *,
        workspace_id: str,
        project_id: str,
        name: str,
        slug: str,
        env: Mapping[str, str] | None = None,
        volume_size: str | None = None,
        tags: Sequence[str] | None = None,
        resources: Mapping[str, str] | None = None,
        instances: int = 1,
        wait: bool = True,
        timeout: float = DEFAULT_TIMEOUT,
        progress: Progress | None = None,
        owner: str | None = None,
    ) -> ManagedService:
        """Create a service; with `wait`, return once every instance is ready.

        A `Timeout` leaves the service in place (to be examined, or waited for again).
        """
        validation.raise_if_invalid(
            validation.check_create(
                self.catalog,
                workspace_id=workspace_id,
                project_id=project_id,
                name=name,
                slug=slug,
                env=env,
                volume_size=volume_size,
                tags=tags,
                resources=resources,
                instances=instances,
            )
        )
        offering = self.catalog.get(slug)
        namespace = naming.namespace_name(workspace_id, project_id)
        namespace_exists = self.kube.get(Namespace, namespace) is not None
        if namespace_exists:
            self._ensure_name_free(namespace, name, except_id=None)
        spec = ServiceSpec(
            workspace_id=workspace_id,
            project_id=project_id,
            service_id=naming.new_service_id(name),
            name=name,
            slug=slug,
            env_overrides=dict(env or {}),
            volume_size=quantities.canonical_storage(volume_size or offering.storage.default_size),
            resources=Resources.from_input(resources),
            tags=list(tags or []),
            instances=instances,
            owner=owner,
        )
        full_env = render.effective_env(offering, spec.env_overrides)
        if not namespace_exists:
            self.kube.apply(render.render_namespace(workspace_id, project_id))
            if self._rbac_subject is not None:
                self.kube.apply(render.render_role_binding(namespace, self._rbac_subject))
        applied: builtins.list[Obj] = []
        try:
            for obj in render.render_service(offering, spec, full_env):
                if applied:
                    self.kube.apply(obj)
                else:
                    self._apply_once_granted(namespace, obj)
                applied.append(obj)
        except BaseException:
            self._delete_objects(namespace, applied)
            raise
        if wait:
            self._wait(namespace, spec.service_id, timeout, progress)
        return self.get(spec.service_id)

    def _apply_once_granted(self, namespace: str, obj: Obj) -> None:
        """Apply the first object of a service, waiting for our RoleBinding to take effect.

        Without an RBAC subject a refusal is final. With one, the refusal may come from a
        RoleBinding the authorizer has not seen yet, or from none at all (a run stopped between
        the namespace and its RoleBinding): re-apply the binding once, then retry until
        GRANT_PROPAGATION_TIMEOUT, after which the refusal is real and is raised.
        """
        deadline = time.monotonic() + GRANT_PROPAGATION_TIMEOUT
        delay = 0.1
        rebound = False
        while True:
            try:
                self.kube.apply(obj)
                return
            except Forbidden:
                if self._rbac_subject is None or time.monotonic() > deadline:
                    raise
                if not rebound:
                    self.kube.apply(render.render_role_binding(namespace, self._rbac_subject))
                    rebound = True
            time.sleep(delay)
            delay = min(delay * 2, 1.0)

    def find(self, *, workspace_id: str, project_id: str, name: str) -> ManagedService | None:
        """The service with this display name in the project, if there is one."""
        namespace = naming.namespace_name(workspace_id, project_id)
        for sts in self.kube.list(StatefulSet, namespace=namespace, labels=_managed()):
            if sts["metadata"].get("annotations", {}).get(naming.ANNOTATION_NAME) == name:
                return self._view(self._read_from(namespace, sts), show_secrets=False)
        return None

    def _ensure_name_free(self, namespace: str, name: str, except_id: str | None) -> None:
        for sts in self.kube.list(StatefulSet, namespace=namespace, labels=_managed()):
            meta = sts["metadata"]
            if meta.get("annotations", {}).get(naming.ANNOTATION_NAME) == name:
                other = meta.get("labels", {}).get(naming.LABEL_SERVICE_ID)
                if other != except_id:
                    raise Conflict(f"name: a managed service named {name!r} already exists in this project ({other})")

    # -- read ---------------------------------------------------------------------------

    def offerings(self) -> builtins.list[OfferingView]:
        """The catalog as users see it (no cluster needed)."""
        return [
            OfferingView(
                slug=o.slug,
                display_name=o.display_name,
                description=o.description,
                image=o.image,
                port=o.client_port.port,
                default_volume_size=o.storage.default_size,
                max_instances=o.scaling.max_instances,
                replicas=o.scaling.replicas,
            )
            for o in self.catalog.offerings()
        ]

    def get(self, service_id: str, *, show_secrets: bool = False) -> ManagedService:
        """The service as the cluster has it now."""
        return self._view(self._read(service_id), show_secrets)

    def list(self, *, workspace_id: str, project_id: str, show_secrets: bool = False) -> builtins.list[ManagedService]:
        """Every service of a project, oldest first."""
        namespace = naming.namespace_name(workspace_id, project_id)
        found = []
        for sts in self.kube.list(StatefulSet, namespace=namespace, labels=_managed()):
            try:
                found.append(self._view(self._read_from(namespace, sts), show_secrets))
            except NotFound:
                continue  # deleted between the list and the read
        return sorted(found, key=lambda s: (s.created_at or datetime.min.replace(tzinfo=UTC), s.id))

    def effective_env(self, service_id: str, *, show_secrets: bool = False) -> dict[str, str]:
        """Every env var the service runs with (offering defaults, generated, overrides)."""
        return self._effective_env(self._read(service_id), show_secrets)

    def _effective_env(self, live: _Live, show_secrets: bool) -> dict[str, str]:
        offering = self.catalog.get(live.spec.slug)
        return {
            key: value if show_secrets or not offering.is_secret_env(key) else MASK
            for key, value in sorted(live.env.items())
            if key != render.CONFIG_HASH_SALT_ENV
        }

    def status(self, service_id: str) -> ServiceStatus:
        namespace, sts = self._locate(service_id)
        return self._status(namespace, sts)

    def _status(self, namespace: str, sts: Obj) -> ServiceStatus:
        service_id = sts["metadata"]["labels"][naming.LABEL_SERVICE_ID]
        return readiness.status_of(sts, self.kube.pods(namespace, naming.selector_labels(service_id)))

    def describe(self, service_id: str, *, show_secrets: bool = False) -> ServiceDetails:
        """`get`, `effective_env` and `status` in one: the service is looked up once, so the
        three agree with each other and it costs three reads instead of six."""
        live = self._read(service_id)
        return ServiceDetails(
            service=self._view(live, show_secrets),
            effective_env=self._effective_env(live, show_secrets),
            status=self._status(live.namespace, live.stateful_set),
        )

    def wait(
        self, service_id: str, timeout: float = DEFAULT_TIMEOUT, progress: Progress | None = None
    ) -> ServiceStatus:
        """Block until the service has converged (or raise Timeout with the last state seen)."""
        namespace, _ = self._locate(service_id)
        self._wait(namespace, service_id, timeout, progress)
        return self.status(service_id)

    # -- update, scale, restart -----------------------------------------------------------

    def update(
        self,
        service_id: str,
        *,
        name: str | None = None,
        slug: str | None = None,
        env: Mapping[str, str] | None = None,
        volume_size: str | None = None,
        resources: Mapping[str, str] | None = None,
        tags: Sequence[str] | None = None,
        instances: int | None = None,
        wait: bool = True,
        timeout: float = DEFAULT_TIMEOUT,
        progress: Progress | None = None,
    ) -> ManagedService:
        """Change what may change in place. `env` replaces the overrides as a whole."""
        live = self._read(service_id)
        current = live.spec
        if slug is not None and slug != current.slug:
            raise Immutable(
                "slug",
                f"cannot change from {current.slug!r} to {slug!r} in place; a different offering or "
                "major version is a new service: create it, move the data, then delete this one",
            )
        offering = self.catalog.get(current.slug)
        errors = validation.check_update(
            offering,
            current,
            name=name,
            env=env,
            volume_size=volume_size,
            resources=resources,
            tags=tags,
            instances=instances,
        )
        immutable, other = validation.split_immutable(errors)
        if immutable:
            raise Immutable(immutable[0].field, immutable[0].message)
        validation.raise_if_invalid(other)
        if name is not None and name != current.name:
            self._ensure_name_free(live.namespace, name, except_id=service_id)
        changes: dict[str, Any] = {}
        if name is not None:
            changes["name"] = name
        if env is not None:
            changes["env_overrides"] = dict(env)
        if volume_size is not None:
            changes["volume_size"] = quantities.canonical_storage(volume_size)
        if resources is not None:
            changes["resources"] = Resources.from_input(resources)
        if tags is not None:
            changes["tags"] = list(tags)
        if instances is not None:
            changes["instances"] = instances
        desired = current.model_copy(update=changes)
        self._converge(live, offering, desired, progress)
        if wait:
            self._wait(live.namespace, service_id, timeout, progress)
        return self.get(service_id)

    def scale(
        self,
        service_id: str,
        instances: int,
        *,
        wait: bool = False,
        timeout: float = DEFAULT_TIMEOUT,
        progress: Progress | None = None,
    ) -> ServiceStatus:
        """Set the instance count: 0 pauses (volumes kept), more than 1 adds read replicas."""
        self.update(service_id, instances=instances, wait=wait, timeout=timeout, progress=progress)
        return self.status(service_id)

    def restart(self, service_id: str) -> ServiceStatus:
        """Roll every instance, one at a time; returns at once (poll `status`)."""
        live = self._read(service_id)
        offering = self.catalog.get(live.spec.slug)
        token = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        desired = live.spec.model_copy(update={"restart_token": token})
        env = render.effective_env(offering, desired.env_overrides, existing=live.env)
        # Only the pod template changes: one write.
        self.kube.apply(next(o for o in render.render_service(offering, desired, env) if o["kind"] == "StatefulSet"))
        return self.status(service_id)

    def rotate_credentials(self, service_id: str) -> builtins.list[str]:
        """New random values for every generated credential the user has not overridden.

        The Secret and the pod template change together, so the instances roll one at a time
        and start with the new values (PostgreSQL applies them with ALTER ROLE, since its image
        reads the password only at first start). Returns at once with the rotated env names;
        `wait` or `status` show the roll converge. Overridden credentials change through
        `update(env=...)`.
        """
        live = self._read(service_id)
        offering = self.catalog.get(live.spec.slug)
        rotated = [
            rule.name
            for rule in offering.env.generated
            if offering.is_secret_env(rule.name) and rule.name not in live.spec.env_overrides
        ]
        if not rotated:
            raise InvalidInput("env", "every credential of this service is an env override: change it with update")
        kept = {key: value for key, value in live.env.items() if key not in rotated}
        env = render.effective_env(offering, live.spec.env_overrides, existing=kept)
        for obj in render.render_service(offering, live.spec, env):
            if obj["kind"] in ("Secret", "StatefulSet"):
                self.kube.apply(obj)
        return rotated

    def _converge(self, live: _Live, offering: Offering, desired: ServiceSpec, progress: Progress | None) -> None:
        env = render.effective_env(offering, desired.env_overrides, existing=live.env)
        objects = render.render_service(offering, desired, env)
        if quantities.parse_storage(desired.volume_size) > _claim_size(live.stateful_set):
            self._grow_volumes(live, desired, progress)
        for obj in objects:
            self.kube.apply(obj)
        self._prune(live.namespace, desired.service_id, objects)

    def _grow_volumes(self, live: _Live, desired: ServiceSpec, progress: Progress | None) -> None:
        """Expand every claim in place, then bring the StatefulSet's claim template in line.

        Claim templates are immutable, so the StatefulSet is deleted with its pods orphaned
        and re-applied at once; it adopts the running pods and the expanded claims.
        """
        service_id = desired.service_id
        size = desired.volume_size
        for pvc in self._claims(live.namespace, service_id):
            name = pvc["metadata"]["name"]
            if progress:
                progress(f"expanding volume {name} to {size}")
            self.kube.patch(
                PersistentVolumeClaim,
                name,
                {"spec": {"resources": {"requests": {"storage": size}}}},
                namespace=live.namespace,
            )
        self.kube.delete(StatefulSet, service_id, live.namespace, cascade=CascadeType.ORPHAN)
        deadline = time.monotonic() + 60
        while self.kube.get(StatefulSet, service_id, live.namespace) is not None:
            if time.monotonic() > deadline:
                raise Timeout(f"the StatefulSet {service_id} was not removed to update its volume template")
            time.sleep(0.2)

    def _claims(self, namespace: str, service_id: str) -> builtins.list[Obj]:
        return [
            pvc for pvc in self.kube.list(PersistentVolumeClaim, namespace=namespace) if _claim_belongs(pvc, service_id)
        ]

    def _prune(self, namespace: str, service_id: str, keep: Sequence[Obj]) -> None:
        """Delete what this service owns but no longer renders (the PDB and `-ro` Service after
        scaling to 1). Found by label, so a clean-up a failed update missed is done by the next."""
        wanted = {(o["kind"], o["metadata"]["name"]) for o in keep}
        for kind, name in self._optional_objects(namespace, service_id):
            if (kind, name) not in wanted:
                self.kube.delete(_OWNED_KINDS[kind], name, namespace)

    def _optional_objects(self, namespace: str, service_id: str) -> builtins.list[tuple[str, str]]:
        """The replica-only objects (PDB, read-only Service) that exist now."""
        labels = naming.selector_labels(service_id)
        names = naming.object_names(service_id)
        found = [
            ("Service", s["metadata"]["name"]) for s in self.kube.list(Service, namespace=namespace, labels=labels)
        ]
        found += [
            ("PodDisruptionBudget", p["metadata"]["name"])
            for p in self.kube.list(PodDisruptionBudget, namespace=namespace, labels=labels)
        ]
        optional = {("Service", names.read_only_service), ("PodDisruptionBudget", names.pod_disruption_budget)}
        return [item for item in found if item in optional]

    # -- delete -------------------------------------------------------------------------

    def delete(self, service_id: str, *, wait: bool = True, timeout: float = 300.0) -> None:
        """Delete the service and all it owns, volumes included: the data is gone for good."""
        namespace, _ = self._locate(service_id)
        names = naming.object_names(service_id)
        optional = self._optional_objects(namespace, service_id)
        self.kube.delete(StatefulSet, names.stateful_set, namespace)
        owned = [
            ("Service", names.client_service),
            ("Service", names.headless_service),
            ("NetworkPolicy", names.network_policy),
            ("Secret", names.secret),
        ]
        for kind, name in owned + optional:
            self.kube.delete(_OWNED_KINDS[kind], name, namespace)
        for pvc in self._claims(namespace, service_id):
            self.kube.delete(PersistentVolumeClaim, pvc["metadata"]["name"], namespace)
        if wait:
            self._wait_gone(namespace, service_id, timeout)

    def _wait_gone(self, namespace: str, service_id: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        delay = _POLL_START
        while True:
            pods = self.kube.pods(namespace, naming.selector_labels(service_id))
            claims = self._claims(namespace, service_id)
            if not pods and not claims:
                return
            if time.monotonic() > deadline:
                raise Timeout(
                    f"managed service {service_id} is not gone after {timeout:.0f}s",
                    f"{len(pods)} pods and {len(claims)} volumes left",
                )
            time.sleep(delay)
            delay = min(delay * 2, _POLL_MAX)

    def _delete_objects(self, namespace: str, objects: Sequence[Obj]) -> None:
        for obj in reversed(objects):
            kind = _OWNED_KINDS.get(obj["kind"])
            if kind is not None:
                try:
                    self.kube.delete(kind, obj["metadata"]["name"], namespace)
                except Exception:  # best effort: the original error matters more
                    continue

    # -- logs and metrics ---------------------------------------------------------------

    def logs(
        self,
        service_id: str,
        *,
        since: int | None = None,
        start: str | datetime | None = None,
        end: str | datetime | None = None,
        limit: int | None = 1000,
        filter: str | None = None,
    ) -> builtins.list[LogLine]:
        """Lines of every instance, merged by time; `limit` keeps the newest."""
        window = observe.log_window(since=since, start=start, end=end, limit=limit)
        namespace, sts = self._locate(service_id)
        pods = self.kube.pods(namespace, naming.selector_labels(service_id))
        slug = sts["metadata"].get("labels", {}).get(naming.LABEL_SLUG, "")
        container = self.catalog.get(slug).container_name
        return observe.collect_logs(self.kube, namespace, pods, container, window, filter)

    def metrics(
        self,
        service_id: str,
        *,
        names: Sequence[str] = ("cpu_usage", "memory_usage"),
        since: int | None = None,
        start: str | datetime | None = None,
        end: str | datetime | None = None,
        step: int = 60,
    ) -> builtins.list[MetricSeries]:
        """Each requested metric with its own status: one failing never fails the others."""
        window = observe.metric_window(since=since, start=start, end=end, step=step)
        namespace, sts = self._locate(service_id)
        instances = int(sts.get("spec", {}).get("replicas", 1))
        return observe.collect_metrics(
            self.kube, self._prometheus_url, namespace, service_id, list(names), window, instances
        )

    # -- reading helpers ----------------------------------------------------------------

    def _locate(self, service_id: str) -> tuple[str, Obj]:
        if not isinstance(service_id, str) or not service_id:
            raise InvalidInput("id", "must be a managed service id such as 'orders-db-7f3k2'")
        found = self.kube.list(StatefulSet, labels={**_managed(), naming.LABEL_SERVICE_ID: service_id})
        if not found:
            raise NotFound(f"managed service {service_id!r} not found")
        sts = found[0]
        return sts["metadata"]["namespace"], sts

    def _read(self, service_id: str) -> _Live:
        namespace, sts = self._locate(service_id)
        return self._read_from(namespace, sts)

    def _read_from(self, namespace: str, sts: Obj) -> _Live:
        service_id = sts["metadata"]["labels"][naming.LABEL_SERVICE_ID]
        secret = self.kube.get(Secret, naming.object_names(service_id).secret, namespace)
        if secret is None:
            raise NotFound(f"managed service {service_id!r} is incomplete: its Secret is missing")
        data = {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
        annotation = sts["metadata"].get("annotations", {}).get(naming.ANNOTATION_SPEC, "")
        spec = ServiceSpec.from_annotation(annotation, data)
        # The Secret also carries the offering's files; they are not environment.
        files = {f.name for f in self.catalog.get(spec.slug).files}
        env = {k: v for k, v in data.items() if k not in files}
        # The Secret lives as long as the service (the StatefulSet is recreated on volume growth).
        created = _parse_time(secret["metadata"].get("creationTimestamp"))
        return _Live(namespace=namespace, stateful_set=sts, env=env, spec=spec, created_at=created)

    def _view(self, live: _Live, show_secrets: bool) -> ManagedService:
        spec, sts = live.spec, live.stateful_set
        offering = self.catalog.get(spec.slug)
        container = _main_container(sts, offering.container_name)
        requests = (container.get("resources") or {}).get("requests") or {}
        limits = (container.get("resources") or {}).get("limits") or {}
        conn = connection_info(offering, spec, live.env)

        def shown(key: str, value: str) -> str:
            return value if show_secrets or not offering.is_secret_env(key) else MASK

        meta = sts["metadata"]
        return ManagedService(
            id=spec.service_id,
            workspace_id=spec.workspace_id,
            project_id=spec.project_id,
            namespace=live.namespace,
            name=meta.get("annotations", {}).get(naming.ANNOTATION_NAME, spec.name),
            slug=spec.slug,
            image=str(container.get("image", offering.image)),
            # Live values: an out-of-band edit of the Secret shows here.
            env={k: shown(k, live.env.get(k, v)) for k, v in sorted(spec.env_overrides.items())},
            volume_size=quantities.format_bytes(_claim_size(sts)),
            resources=ResourcesView(
                cpu=_canonical(requests.get("cpu"), quantities.canonical_cpu),
                memory=_canonical(limits.get("memory") or requests.get("memory"), quantities.canonical_memory),
            ),
            tags=list(spec.tags),
            instances=int(sts.get("spec", {}).get("replicas", spec.instances)),
            connection=ConnectionView(
                host=conn.host,
                port=conn.port,
                username=conn.username,
                password=(conn.password if show_secrets else MASK) if conn.password is not None else None,
                uri=conn.uri if show_secrets else _masked_uri(conn.uri, conn.password),
                read_only_host=conn.read_only_host,
            ),
            created_at=live.created_at,
            owner=spec.owner,
        )

    def _wait(self, namespace: str, service_id: str, timeout: float, progress: Progress | None) -> None:
        report = readiness.ProgressLog(progress)
        deadline = time.monotonic() + timeout
        delay = _POLL_START
        while True:
            sts = self.kube.get(StatefulSet, service_id, namespace)
            if sts is None:
                raise NotFound(f"managed service {service_id!r} disappeared while waiting for it")
            report(sts)
            pending = readiness.first_pending(sts)
            if pending is None:
                return
            if time.monotonic() > deadline:
                pods = self.kube.pods(namespace, naming.selector_labels(service_id))
                why = readiness.stuck_pod(pods) or observe.last_warning(self.kube, namespace, service_id)
                raise Timeout(
                    f"managed service {service_id} not ready after {timeout:.0f}s ({pending.name}: {pending.message})",
                    why,
                )
            time.sleep(delay)
            delay = min(delay * 1.5, _POLL_MAX)


def _managed() -> dict[str, str]:
    return {naming.LABEL_MANAGED_BY: naming.MANAGED_BY}


def _claim_belongs(pvc: Obj, service_id: str) -> bool:
    labels = pvc["metadata"].get("labels") or {}
    if labels.get(naming.LABEL_SERVICE_ID) == service_id:
        return True
    prefix = f"{naming.DATA_VOLUME}-{service_id}-"
    return bool(pvc["metadata"]["name"].startswith(prefix) and pvc["metadata"]["name"][len(prefix) :].isdigit())


def _claim_size(sts: Obj) -> int:
    for template in sts.get("spec", {}).get("volumeClaimTemplates") or []:
        storage = template.get("spec", {}).get("resources", {}).get("requests", {}).get("storage")
        if storage:
            return quantities.quantity_bytes(str(storage))
    return 0


def _main_container(sts: Obj, name: str) -> Obj:
    containers = sts.get("spec", {}).get("template", {}).get("spec", {}).get("containers") or []
    for container in containers:
        if container.get("name") == name:
            return dict(container)
    return dict(containers[0]) if containers else {}


def _canonical(value: object, canon: Callable[[str], str]) -> str | None:
    if value is None:
        return None
    try:
        return canon(str(value))
    except (InvalidInput, ValueError):
        return str(value)


def _masked_uri(uri: str, password: str | None) -> str:
    if not password:
        return uri
    from urllib.parse import quote

    return uri.replace(quote(password, safe=""), MASK)


def _parse_time(text: object) -> datetime | None:
    if not isinstance(text, str):
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


__all__ = ["ManagedServices"]
