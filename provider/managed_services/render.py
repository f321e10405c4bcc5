"""Kubernetes objects for a managed service, as plain dicts. Pure: no I/O, no clock.

`render_service` returns every object of one service in apply order:

    Secret            all env (defaults, generated secrets, overrides) and the offering's files
    NetworkPolicy     before the pods exist, so they are never reachable unprotected
    Service  <id>-hl  headless, publishNotReadyAddresses: stable per-instance DNS for replication
    Service  <id>     instance 0 only (the primary), via statefulset.kubernetes.io/pod-name
    Service  <id>-ro  every instance (offerings with read replicas, when instances > 1)
    StatefulSet       replicas = instances
    PodDisruptionBudget  only when instances > 1

A create writes at most 6 objects (Namespace for a new project, Secret, NetworkPolicy, two
Services, StatefulSet): files share the Secret, and the `-ro` Service and the PDB only exist
once there are replicas. Objects absent from a render (the PDB after scaling to 1, ...) must be deleted by the apply
layer; `naming.object_names` lists every name a service may own.

Decisions:
- The read-only Service selects ALL instances, the primary included. A Service selector can
  only test equality, and a pod's role is not a label the StatefulSet can set per pod (the
  template is shared), so "replicas only" would need a controller relabelling pods. The
  primary serves reads too, and replicas are asynchronous, so reads through `-ro` may be
  slightly stale. It exists only while there are replicas (instances > 1).
- Instance 0 is the primary; the others differ only through (a) init containers that look at
  their own pod name (env MS_POD_NAME, downward API) and (b) `replica_args`, which a small
  `sh -c` wrapper appends on every instance but 0. The pod template is identical for all.
- Everything needed to rebuild the spec is on the objects: labels, the spec annotation on the
  StatefulSet, and the Secret (override keys in its annotation, values in its data).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import string
from collections.abc import Mapping
from typing import Any

from . import naming, quantities
from .catalog import GeneratedSecret, Offering, Probe
from .errors import InvalidInput
from .spec import ServiceSpec

Manifest = dict[str, Any]

# Keys the engine itself puts in every service's env (user overrides may not use MS_*).
POD_NAME_ENV = "MS_POD_NAME"
CONFIG_HASH_SALT_ENV = "MS_CONFIG_HASH_SALT"

_ALPHABETS = {
    "alphanumeric": string.ascii_letters + string.digits,
    "lower-alphanumeric": string.ascii_lowercase + string.digits,
}
_SALT_RULE = GeneratedSecret(name=CONFIG_HASH_SALT_ENV, length=32)

REPLICA_ARGS_MARKER = "::ms-replica-args::"
# Run as `sh -c WRAPPER ms-start COMMAND... ARGS... MARKER REPLICA_ARGS...`: rebuilds "$@"
# without the marker, keeping the replica args only when this pod is not instance 0, then
# execs the command. It must contain neither "$(" nor "$$": the kubelet expands those in args.
REPLICA_WRAPPER = (
    'replica=1; case "${' + POD_NAME_ENV + ':?}" in *-0) replica=0;; esac; keep=1; '
    'for a in "$@"; do shift; '
    'if [ "$a" = "' + REPLICA_ARGS_MARKER + '" ]; then keep=$replica; continue; fi; '
    'if [ "$keep" = 1 ]; then set -- "$@" "$a"; fi; '
    'done; exec "$@"'
)


def generate_secret(rule: GeneratedSecret) -> str:
    """A fresh random value for a generated env var (alphanumeric: safe in URIs, shells, argv)."""
    alphabet = _ALPHABETS[rule.alphabet]
    return "".join(secrets.choice(alphabet) for _ in range(rule.length))


def effective_env(
    offering: Offering, overrides: Mapping[str, str], existing: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The service's whole environment: offering defaults, generated secrets, then overrides.

    Generated secrets (and the config-hash salt) are taken from `existing` (the live Secret)
    when present, so an update never rotates them unless the user overrides them. Immutable
    keys also keep their existing value: the data directory was initialised with it, even if
    the offering's default has changed since. Protected keys always get the offering's value.
    """
    existing = existing or {}
    env = dict(offering.env.defaults)
    for key in offering.env.immutable:
        if key in existing:
            env[key] = existing[key]
    for rule in (*offering.env.generated, _SALT_RULE):
        env[rule.name] = existing.get(rule.name) or generate_secret(rule)
    env.update(overrides)
    for key in offering.env.protected:
        if key in offering.env.defaults:
            env[key] = offering.env.defaults[key]
        else:
            env.pop(key, None)
    return dict(sorted(env.items()))


def config_hash(offering: Offering, env: Mapping[str, str]) -> str:
    """Digest of everything a running pod reads at start (env and files); a change rolls the pods.

    Keyed with the service's random salt so the annotation, readable by anyone who can read
    pods, cannot be used to test guesses of a weak user-chosen password.
    """
    payload = json.dumps(
        {"env": dict(sorted(env.items())), "files": {f.name: f.content for f in offering.files}},
        sort_keys=True,
        separators=(",", ":"),
    )
    key = env.get(CONFIG_HASH_SALT_ENV, "").encode()
    return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()


def template_values(offering: Offering, spec: ServiceSpec) -> dict[str, str]:
    """Values of the placeholders offerings may use (see `catalog` for the template language)."""
    return {
        "service_id": spec.service_id,
        "namespace": naming.namespace_name(spec.workspace_id, spec.project_id),
        "primary_host": naming.primary_host(spec.service_id),
        "headless_service": naming.object_names(spec.service_id).headless_service,
        "port": str(offering.client_port.port),
    }


def render_namespace(workspace_id: str, project_id: str) -> Manifest:
    """The project's namespace, enforcing the `restricted` Pod Security Standard."""
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": naming.namespace_name(workspace_id, project_id),
            "labels": {
                **naming.project_labels(workspace_id, project_id),
                naming.LABEL_MANAGED_BY: naming.MANAGED_BY,
                naming.POD_SECURITY_ENFORCE: "restricted",
                naming.POD_SECURITY_ENFORCE_VERSION: "latest",
            },
        },
    }


WORKLOADS_CLUSTER_ROLE = "managed-services-workloads"
_SUBJECT_KINDS = {"serviceaccount": "ServiceAccount", "user": "User", "group": "Group"}


def rbac_subject(text: str) -> Manifest:
    """`serviceaccount:<ns>:<name>`, `user:<name>` or `group:<name>` as an RBAC subject."""
    kind, _, rest = text.partition(":")
    if kind.lower() not in _SUBJECT_KINDS or not rest:
        raise InvalidInput(
            "rbac_subject", f"{text!r} is not serviceaccount:<namespace>:<name>, user:<name> or group:<name>"
        )
    if kind.lower() == "serviceaccount":
        namespace, _, name = rest.partition(":")
        if not namespace or not name:
            raise InvalidInput("rbac_subject", f"{text!r} is not serviceaccount:<namespace>:<name>")
        return {"kind": "ServiceAccount", "name": name, "namespace": namespace}
    return {"kind": _SUBJECT_KINDS[kind.lower()], "name": rest, "apiGroup": "rbac.authorization.k8s.io"}


def render_role_binding(namespace: str, subject: str) -> Manifest:
    """Grants the engine's identity the namespaced workload rules in one project namespace."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {
            "name": naming.MANAGED_BY,
            "namespace": namespace,
            "labels": {naming.LABEL_MANAGED_BY: naming.MANAGED_BY},
        },
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": WORKLOADS_CLUSTER_ROLE},
        "subjects": [rbac_subject(subject)],
    }


def render_service(offering: Offering, spec: ServiceSpec, env: Mapping[str, str]) -> list[Manifest]:
    """All objects of one service, in apply order (see the module docstring).

    `env` is the result of `effective_env`; it goes into the Secret verbatim.
    """
    names = naming.object_names(spec.service_id)
    namespace = naming.namespace_name(spec.workspace_id, spec.project_id)

    def meta(name: str, annotations: Mapping[str, str] | None = None) -> Manifest:
        return {
            "name": name,
            "namespace": namespace,
            "labels": naming.labels(spec),
            "annotations": {naming.ANNOTATION_NAME: spec.name, **(annotations or {})},
        }

    selector = naming.selector_labels(spec.service_id)
    objects: list[Manifest] = [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": meta(
                names.secret, {naming.ANNOTATION_ENV_OVERRIDE_KEYS: json.dumps(sorted(spec.env_overrides))}
            ),
            "type": "Opaque",
            # The offering's files ride in the same Secret (one object less to write per
            # create); env vars are wired key by key, so file keys never become env vars.
            "data": {
                **{k: _b64(v) for k, v in sorted(env.items())},
                **{f.name: _b64(f.content) for f in offering.files},
            },
        }
    ]
    objects.append(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": meta(names.network_policy),
            "spec": _network_policy_spec(offering, spec, selector),
        }
    )
    ports = [{"name": p.name, "port": p.port, "targetPort": p.name, "protocol": "TCP"} for p in offering.ports]
    objects.append(
        _service(
            meta(names.headless_service),
            {"clusterIP": "None", "publishNotReadyAddresses": True, "selector": selector, "ports": ports},
        )
    )
    primary = {**selector, naming.LABEL_POD_NAME: naming.pod_name(spec.service_id, 0)}
    objects.append(_service(meta(names.client_service), {"type": "ClusterIP", "selector": primary, "ports": ports}))
    if offering.has_read_replicas and spec.instances > 1:
        objects.append(
            _service(meta(names.read_only_service), {"type": "ClusterIP", "selector": selector, "ports": ports})
        )
    objects.append(
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": meta(names.stateful_set, {naming.ANNOTATION_SPEC: spec.to_annotation()}),
            "spec": _stateful_set_spec(offering, spec, env),
        }
    )
    if spec.instances > 1:
        objects.append(
            {
                "apiVersion": "policy/v1",
                "kind": "PodDisruptionBudget",
                "metadata": meta(names.pod_disruption_budget),
                "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector}},
            }
        )
    return objects


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _service(metadata: Manifest, spec: Manifest) -> Manifest:
    return {"apiVersion": "v1", "kind": "Service", "metadata": metadata, "spec": spec}


def _network_policy_spec(offering: Offering, spec: ServiceSpec, selector: Mapping[str, str]) -> Manifest:
    ports = [{"protocol": "TCP", "port": p.port} for p in offering.ports]
    return {
        "podSelector": {"matchLabels": dict(selector)},
        "policyTypes": ["Ingress"],
        "ingress": [
            # Any pod in a namespace of the same workspace and project (this one included).
            {
                "from": [
                    {"namespaceSelector": {"matchLabels": naming.project_labels(spec.workspace_id, spec.project_id)}}
                ],
                "ports": ports,
            },
            # The service's own pods (replication), even if the namespace labels are ever lost.
            {"from": [{"podSelector": {"matchLabels": dict(selector)}}], "ports": ports},
        ],
    }


def _stateful_set_spec(offering: Offering, spec: ServiceSpec, env: Mapping[str, str]) -> Manifest:
    names = naming.object_names(spec.service_id)
    selector = naming.selector_labels(spec.service_id)
    values = template_values(offering, spec)
    security = offering.security

    mounts: list[Manifest] = [{"name": naming.DATA_VOLUME, "mountPath": offering.storage.mount_path}]
    volumes: list[Manifest] = []
    file_dirs: dict[str, list[Manifest]] = {}
    for f in offering.files:
        mode = 0o555 if f.executable else 0o444
        file_dirs.setdefault(f.mount_dir, []).append({"key": f.name, "path": f.name, "mode": mode})
    for i, (directory, items) in enumerate(file_dirs.items()):
        name = f"files-{i}"
        volumes.append({"name": name, "secret": {"secretName": names.secret, "items": items, "defaultMode": 0o444}})
        mounts.append({"name": name, "mountPath": directory, "readOnly": True})
    for d in security.writable_dirs:
        empty_dir: Manifest = {"medium": d.medium} if d.medium else {}
        if d.size_limit:
            empty_dir["sizeLimit"] = d.size_limit
        volumes.append({"name": d.name, "emptyDir": empty_dir})
        mounts.append({"name": d.name, "mountPath": d.path})

    cpu = quantities.canonical_cpu(spec.resources.cpu or offering.resources.cpu)
    memory = quantities.canonical_memory(spec.resources.memory or offering.resources.memory)
    common: Manifest = {
        "image": offering.image,
        "imagePullPolicy": "IfNotPresent",
        # Memory requests = limits (no overcommit for a database); CPU is only requested so
        # the server may burst instead of being throttled.
        "resources": {"requests": {"cpu": cpu, "memory": memory}, "limits": {"memory": memory}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "privileged": False,
            "readOnlyRootFilesystem": security.read_only_root_filesystem,
            "runAsNonRoot": True,
            "runAsUser": security.run_as_user,
            "runAsGroup": security.run_as_group,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": mounts,
    }

    def env_list(extra: Mapping[str, str]) -> list[Manifest]:
        # Protected keys are literal values, so an edit of the Secret cannot change them.
        fixed = {k: offering.env.defaults[k] for k in offering.env.protected if k in offering.env.defaults}
        literal = {**fixed, **extra}
        from_secret = [
            {"name": k, "valueFrom": {"secretKeyRef": {"name": names.secret, "key": k}}}
            for k in sorted(env)
            if k not in literal
        ]
        return [
            {"name": POD_NAME_ENV, "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            *from_secret,
            *({"name": k, "value": v} for k, v in sorted(literal.items())),
        ]

    container: Manifest = {"name": offering.container_name, **common, "env": env_list({})}
    container.update(_command(offering, values))
    container["ports"] = [{"name": p.name, "containerPort": p.port, "protocol": "TCP"} for p in offering.ports]
    container["readinessProbe"] = _probe(offering.probes.readiness)
    container["livenessProbe"] = _probe(offering.probes.liveness)
    if offering.probes.startup is not None:
        container["startupProbe"] = _probe(offering.probes.startup)
    lifecycle: Manifest = {}
    for key, hook in (("postStart", offering.lifecycle.post_start), ("preStop", offering.lifecycle.pre_stop)):
        if hook is not None:
            lifecycle[key] = {"exec": {"command": [c.format(**values) for c in hook.command]}}
    if lifecycle:
        container["lifecycle"] = lifecycle

    init_containers = []
    for init in offering.init_containers:
        init_container: Manifest = {
            "name": init.name,
            **common,
            "env": env_list({k: v.format(**values) for k, v in init.env.items()}),
            "command": [c.format(**values) for c in init.command],
        }
        if init.args:
            init_container["args"] = [a.format(**values) for a in init.args]
        init_containers.append(init_container)

    pod_annotations = {
        "kubectl.kubernetes.io/default-container": offering.container_name,
        naming.ANNOTATION_CONFIG_HASH: config_hash(offering, env),
    }
    if spec.restart_token:
        pod_annotations[naming.ANNOTATION_RESTART_TOKEN] = spec.restart_token
    pod_spec: Manifest = {
        "automountServiceAccountToken": False,
        # Service links would inject *_PORT/*_HOST variables that can collide with the image's own.
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": offering.termination_grace_period_seconds,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": security.run_as_user,
            "runAsGroup": security.run_as_group,
            "fsGroup": security.fs_group,
            "fsGroupChangePolicy": "OnRootMismatch",
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "affinity": {
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 100,
                        "podAffinityTerm": {
                            "labelSelector": {"matchLabels": dict(selector)},
                            "topologyKey": "kubernetes.io/hostname",
                        },
                    }
                ]
            }
        },
        **({"initContainers": init_containers} if init_containers else {}),
        "containers": [container],
        "volumes": volumes,
    }
    return {
        "serviceName": names.headless_service,
        "replicas": spec.instances,
        "podManagementPolicy": "OrderedReady",
        "updateStrategy": {"type": "RollingUpdate"},
        "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
        "selector": {"matchLabels": dict(selector)},
        "template": {
            "metadata": {"labels": naming.labels(spec), "annotations": pod_annotations},
            "spec": pod_spec,
        },
        "volumeClaimTemplates": [
            {
                "metadata": {"name": naming.DATA_VOLUME, "labels": naming.labels(spec)},
                # No storageClassName: the cluster's default StorageClass provides the volume.
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": spec.volume_size}},
                },
            }
        ],
    }


def _command(offering: Offering, values: Mapping[str, str]) -> Manifest:
    command = [c.format(**values) for c in offering.command] if offering.command is not None else None
    args = [a.format(**values) for a in offering.args]
    if offering.replica_args:
        assert command is not None  # check_offering guarantees it
        replica_args = [a.format(**values) for a in offering.replica_args]
        return {
            "command": ["/bin/sh", "-c", REPLICA_WRAPPER, "ms-start"],
            "args": [*command, *args, REPLICA_ARGS_MARKER, *replica_args],
        }
    result: Manifest = {}
    if command is not None:
        result["command"] = command
    # An empty args list is left out so the image's CMD still applies.
    if args:
        result["args"] = args
    return result


def _probe(probe: Probe) -> Manifest:
    result: Manifest = {
        "initialDelaySeconds": probe.initial_delay_seconds,
        "periodSeconds": probe.period_seconds,
        "timeoutSeconds": probe.timeout_seconds,
        "failureThreshold": probe.failure_threshold,
    }
    if probe.command is not None:
        result["exec"] = {"command": list(probe.command)}
    elif probe.http_get is not None:
        result["httpGet"] = {"path": probe.http_get.path, "port": probe.http_get.port, "scheme": "HTTP"}
    return result
