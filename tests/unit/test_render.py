from __future__ import annotations

import base64
import json
import os
import re
import string
import subprocess
from pathlib import Path
from typing import Any

import pytest

from managed_services import naming
from managed_services.catalog import load_catalog
from managed_services.errors import InvalidInput
from managed_services.render import (
    CONFIG_HASH_SALT_ENV,
    REPLICA_WRAPPER,
    config_hash,
    effective_env,
    render_namespace,
    render_service,
)
from managed_services.spec import Resources, ServiceSpec
from tests.unit.pss_restricted import check_pod

CATALOG = load_catalog(Path(__file__).resolve().parents[2] / "offerings")
NAMESPACE = "ms-acme-shop"


def make_spec(slug: str, instances: int = 1, **changes: Any) -> ServiceSpec:
    values: dict[str, Any] = {
        "workspace_id": "acme",
        "project_id": "shop",
        "service_id": "svc-abcde",
        "name": "orders",
        "slug": slug,
        "volume_size": "4Gi",
        "instances": instances,
        "env_overrides": {"TZ": "UTC"},
        "tags": ["team:a"],
    }
    values.update(changes)
    return ServiceSpec(**values)


def render(slug: str, instances: int = 1, **changes: Any) -> tuple[ServiceSpec, dict[str, str], list[dict[str, Any]]]:
    spec = make_spec(slug, instances, **changes)
    offering = CATALOG.get(slug)
    env = effective_env(offering, spec.env_overrides, None)
    return spec, env, render_service(offering, spec, env)


def by_kind(objects: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    matches = [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    assert len(matches) == 1, [o["metadata"]["name"] for o in matches]
    return matches[0]


def pod_of(objects: list[dict[str, Any]]) -> dict[str, Any]:
    pod: dict[str, Any] = by_kind(objects, "StatefulSet")["spec"]["template"]["spec"]
    return pod


# --- Pod Security ---------------------------------------------------------------------------


@pytest.mark.parametrize(("slug", "instances"), [("postgres-16", 1), ("postgres-16", 3), ("valkey-8", 2), ("minio", 1)])
def test_every_offering_passes_the_restricted_pod_security_standard(slug: str, instances: int) -> None:
    _, _, objects = render(slug, instances)
    template = by_kind(objects, "StatefulSet")["spec"]["template"]
    assert check_pod(template["spec"], template["metadata"]["annotations"]) == []


def test_the_pss_checker_catches_violations() -> None:
    _, _, objects = render("postgres-16")
    pod = json.loads(json.dumps(pod_of(objects)))
    pod["hostNetwork"] = True
    pod["securityContext"]["runAsNonRoot"] = False
    pod["securityContext"]["sysctls"] = [{"name": "kernel.msgmax", "value": "1"}]
    pod["volumes"].append({"name": "host", "hostPath": {"path": "/"}})
    main = pod["containers"][0]["securityContext"]
    main["allowPrivilegeEscalation"] = True
    main["capabilities"] = {"add": ["SYS_ADMIN"]}
    main["seccompProfile"] = {"type": "Unconfined"}
    main["privileged"] = True
    main["procMount"] = "Unmasked"
    main["seLinuxOptions"] = {"type": "spc_t"}
    pod["initContainers"][0]["securityContext"]["runAsUser"] = 0
    # Unset here, and false on the pod: not non-root.
    del pod["initContainers"][0]["securityContext"]["runAsNonRoot"]
    pod["containers"][0]["ports"][0]["hostPort"] = 5432
    violations = check_pod(pod, {"container.apparmor.security.beta.kubernetes.io/postgres": "unconfined"})
    expected = [
        "spec.hostNetwork",
        "spec.securityContext.runAsNonRoot",
        "spec.securityContext.sysctls",
        f"spec.volumes[{len(pod['volumes']) - 1}].hostPath",
        "spec.containers[0].securityContext.allowPrivilegeEscalation",
        "spec.containers[0].securityContext.capabilities.add",
        "spec.containers[0].securityContext.capabilities.drop",
        "spec.containers[0].securityContext.seccompProfile.type",
        "spec.containers[0].securityContext.privileged",
        "spec.containers[0].securityContext.procMount",
        "spec.containers[0].securityContext.seLinuxOptions.type",
        "spec.containers[0].ports[0].hostPort",
        "spec.initContainers[0].securityContext.runAsUser",
        "spec.initContainers[0].securityContext.runAsNonRoot",
        "metadata.annotations[container.apparmor.security.beta.kubernetes.io/postgres]",
    ]
    fields = {v.split(": ", 1)[0] for v in violations}
    assert set(expected) <= fields, sorted(fields)


def test_the_pss_checker_requires_explicit_settings() -> None:
    # A minimal pod that baseline admits but restricted refuses.
    pod = {"containers": [{"name": "c", "image": "busybox:1.36"}]}
    assert {v.split(": ")[0] for v in check_pod(pod)} == {
        "spec.containers[0].securityContext.allowPrivilegeEscalation",
        "spec.containers[0].securityContext.runAsNonRoot",
        "spec.containers[0].securityContext.seccompProfile.type",
        "spec.containers[0].securityContext.capabilities.drop",
    }


# --- Objects and order ----------------------------------------------------------------------


def test_postgres_with_replicas_renders_every_object_in_apply_order() -> None:
    _, _, objects = render("postgres-16", 3)
    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == [
        ("Secret", "svc-abcde"),
        ("NetworkPolicy", "svc-abcde"),
        ("Service", "svc-abcde-hl"),
        ("Service", "svc-abcde"),
        ("Service", "svc-abcde-ro"),
        ("StatefulSet", "svc-abcde"),
        ("PodDisruptionBudget", "svc-abcde"),
    ]
    for obj in objects:
        assert obj["metadata"]["namespace"] == NAMESPACE
        assert obj["metadata"]["labels"][naming.LABEL_SERVICE_ID] == "svc-abcde"
        assert obj["metadata"]["annotations"][naming.ANNOTATION_NAME] == "orders"
    json.dumps(objects)  # plain data only


def test_a_single_instance_writes_at_most_five_objects() -> None:
    # With the project's Namespace, a create stays within 6 writes.
    for slug in ("postgres-16", "valkey-8", "minio"):
        kinds = [o["kind"] for o in render(slug)[2]]
        assert kinds == ["Secret", "NetworkPolicy", "Service", "Service", "StatefulSet"], slug


def test_minio_has_no_configmap_read_only_service_or_pdb() -> None:
    _, _, objects = render("minio")
    assert [o["kind"] for o in objects] == ["Secret", "NetworkPolicy", "Service", "Service", "StatefulSet"]


def test_pdb_only_with_more_than_one_instance() -> None:
    assert not [o for o in render("valkey-8", 1)[2] if o["kind"] == "PodDisruptionBudget"]
    pdb = by_kind(render("valkey-8", 2)[2], "PodDisruptionBudget")
    assert pdb["spec"] == {
        "maxUnavailable": 1,
        "selector": {"matchLabels": naming.selector_labels("svc-abcde")},
    }


def test_services_select_the_right_instances() -> None:
    _, _, objects = render("postgres-16", 2)
    selector = naming.selector_labels("svc-abcde")
    headless = by_kind(objects, "Service", "svc-abcde-hl")["spec"]
    assert headless["clusterIP"] == "None" and headless["publishNotReadyAddresses"] is True
    assert headless["selector"] == selector
    client = by_kind(objects, "Service", "svc-abcde")["spec"]
    assert client["selector"] == {**selector, "statefulset.kubernetes.io/pod-name": "svc-abcde-0"}
    # The read-only Service balances over every instance, the primary included.
    assert by_kind(objects, "Service", "svc-abcde-ro")["spec"]["selector"] == selector
    assert client["ports"] == [{"name": "postgres", "port": 5432, "targetPort": "postgres", "protocol": "TCP"}]


def test_secret_holds_the_whole_env_and_the_annotation_only_the_override_keys() -> None:
    spec, env, objects = render("postgres-16", env_overrides={"POSTGRES_PASSWORD": "user-chosen-pw", "TZ": "UTC"})
    secret = by_kind(objects, "Secret")
    decoded = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    files = {f.name for f in CATALOG.get("postgres-16").files}
    assert {k: v for k, v in decoded.items() if k not in files} == env
    assert files <= set(decoded), "the offering's files ride in the Secret"
    assert decoded["POSTGRES_PASSWORD"] == "user-chosen-pw"
    assert json.loads(secret["metadata"]["annotations"][naming.ANNOTATION_ENV_OVERRIDE_KEYS]) == [
        "POSTGRES_PASSWORD",
        "TZ",
    ]
    sts = by_kind(objects, "StatefulSet")
    annotation = sts["metadata"]["annotations"][naming.ANNOTATION_SPEC]
    assert "user-chosen-pw" not in annotation
    # Everything needed to rebuild the spec is on the objects.
    assert ServiceSpec.from_annotation(annotation, decoded) == spec


def test_stateful_set_shape() -> None:
    _, _, objects = render("postgres-16", 2, resources=Resources(cpu="1", memory="2Gi"))
    sts = by_kind(objects, "StatefulSet")["spec"]
    selector = naming.selector_labels("svc-abcde")
    assert sts["replicas"] == 2
    assert sts["serviceName"] == "svc-abcde-hl"
    assert sts["podManagementPolicy"] == "OrderedReady"
    assert sts["updateStrategy"] == {"type": "RollingUpdate"}
    assert sts["selector"] == {"matchLabels": selector}
    assert selector.items() <= sts["template"]["metadata"]["labels"].items()
    claim = sts["volumeClaimTemplates"][0]
    assert claim["metadata"]["name"] == "data"
    assert claim["spec"]["resources"]["requests"]["storage"] == "4Gi"
    assert "storageClassName" not in claim["spec"]
    pod = sts["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] == 90
    assert pod["enableServiceLinks"] is False and pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["fsGroup"] == 999
    main = pod["containers"][0]
    from_secret = {
        e["name"]: e["valueFrom"]["secretKeyRef"] for e in main["env"] if "secretKeyRef" in e.get("valueFrom", {})
    }
    assert from_secret["POSTGRES_PASSWORD"] == {"name": "svc-abcde", "key": "POSTGRES_PASSWORD"}
    assert "20-replication.sh" not in from_secret, "file keys never become env vars"
    assert main["resources"] == {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"memory": "2Gi"}}
    assert main["securityContext"]["readOnlyRootFilesystem"] is True
    assert {"name": "PGDATA", "value": "/var/lib/postgresql/data/pgdata"} in main["env"]
    assert main["env"][0] == {
        "name": "MS_POD_NAME",
        "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
    }
    mounts = {m["mountPath"]: m["name"] for m in main["volumeMounts"]}
    assert mounts["/var/lib/postgresql/data"] == "data"
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes[mounts["/dev/shm"]]["emptyDir"] == {"medium": "Memory"}
    assert volumes[mounts["/tmp"]]["emptyDir"] == {}
    assert volumes[mounts["/var/run/postgresql"]]["emptyDir"] == {}
    initdb = volumes[mounts["/docker-entrypoint-initdb.d"]]["secret"]
    assert initdb["items"] == [{"key": "20-replication.sh", "path": "20-replication.sh", "mode": 0o555}]
    assert initdb["secretName"] == "svc-abcde"
    scripts = volumes[mounts["/opt/managed-services"]]["secret"]
    assert {i["key"] for i in scripts["items"]} == {"rotate-passwords.sh", "clone-replica.sh"}
    assert "image" not in main.get("command", []) and "command" not in main  # image entrypoint kept
    readiness = main["readinessProbe"]["exec"]["command"]
    assert readiness[:2] == ["sh", "-c"] and "pg_isready" in readiness[2] and "127.0.0.1" in readiness[2]
    assert main["lifecycle"]["postStart"]["exec"]["command"] == [
        "sh",
        "/opt/managed-services/rotate-passwords.sh",
    ]
    assert "pg_ctl" in main["lifecycle"]["preStop"]["exec"]["command"][2]


def test_postgres_replicas_clone_from_instance_zero() -> None:
    _, _, objects = render("postgres-16", 3)
    init = pod_of(objects)["initContainers"][0]
    assert init["command"] == ["sh", "/opt/managed-services/clone-replica.sh"]
    assert {"name": "MS_PRIMARY_HOST", "value": "svc-abcde-0.svc-abcde-hl"} in init["env"]
    assert {
        "name": "REPLICATION_PASSWORD",
        "valueFrom": {"secretKeyRef": {"name": "svc-abcde", "key": "REPLICATION_PASSWORD"}},
    } in init["env"]
    assert init["securityContext"] == pod_of(objects)["containers"][0]["securityContext"]


def test_minio_container() -> None:
    _, env, objects = render("minio")
    main = pod_of(objects)["containers"][0]
    assert main["args"] == ["minio", "server", "/data", "--console-address", ":9001"]
    assert "command" not in main
    assert [p["containerPort"] for p in main["ports"]] == [9000, 9001]
    assert main["readinessProbe"]["httpGet"] == {
        "path": "/minio/health/ready",
        "port": "api",
        "scheme": "HTTP",
    }
    assert main["livenessProbe"]["httpGet"]["path"] == "/minio/health/live"
    assert main["securityContext"]["runAsUser"] == 1000
    assert {"name": "HOME", "value": "/home/minio"} in main["env"]
    assert len(env["MINIO_ROOT_USER"]) == 20 and len(env["MINIO_ROOT_PASSWORD"]) == 40


def test_network_policy_admits_the_project_and_the_service_itself() -> None:
    _, _, objects = render("minio")
    policy = by_kind(objects, "NetworkPolicy")["spec"]
    selector = naming.selector_labels("svc-abcde")
    assert policy["podSelector"] == {"matchLabels": selector}
    assert policy["policyTypes"] == ["Ingress"]
    project, own = policy["ingress"]
    assert project["from"] == [
        {
            "namespaceSelector": {
                "matchLabels": {
                    "managed-services.io/workspace-id": "acme",
                    "managed-services.io/project-id": "shop",
                }
            }
        }
    ]
    assert own["from"] == [{"podSelector": {"matchLabels": selector}}]
    assert project["ports"] == own["ports"] == [{"protocol": "TCP", "port": 9000}, {"protocol": "TCP", "port": 9001}]


def test_namespace_enforces_restricted() -> None:
    ns = render_namespace("acme", "shop")
    assert ns["metadata"]["name"] == NAMESPACE
    assert ns["metadata"]["labels"] == {
        "managed-services.io/workspace-id": "acme",
        "managed-services.io/project-id": "shop",
        "app.kubernetes.io/managed-by": "managed-services",
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "latest",
    }


# --- Replica arguments ----------------------------------------------------------------------


def test_the_replica_wrapper_survives_kubelet_expansion() -> None:
    # The kubelet rewrites $(VAR) and $$ in command/args; the wrapper must use neither.
    assert "$(" not in REPLICA_WRAPPER and "$$" not in REPLICA_WRAPPER


@pytest.mark.parametrize(("pod", "replica"), [("svc-abcde-0", False), ("svc-abcde-1", True), ("svc-abcde-10", True)])
def test_valkey_replicas_get_replicaof_and_instance_zero_does_not(tmp_path: Path, pod: str, replica: bool) -> None:
    _, _, objects = render("valkey-8", 3)
    main = pod_of(objects)["containers"][0]
    # Stand-in for the image's entrypoint: print the argv it would receive.
    fake = tmp_path / "docker-entrypoint.sh"
    fake.write_text('#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n')
    fake.chmod(0o755)
    # What the kubelet does to $(VALKEY_PASSWORD) before the shell sees it.
    argv = [a.replace("$(VALKEY_PASSWORD)", "pa ss'word") for a in main["command"] + main["args"]]
    result = subprocess.run(
        argv,
        env={"PATH": f"{tmp_path}:{os.environ['PATH']}", "MS_POD_NAME": pod},
        capture_output=True,
        text=True,
        check=True,
    )
    args = result.stdout.splitlines()
    primary = ["valkey-server", "--port", "6379", "--dir", "/data", "--appendonly", "yes"]
    assert args[: len(primary)] == primary
    assert args[len(primary) :][:4] == ["--requirepass", "pa ss'word", "--masterauth", "pa ss'word"]
    assert ("--replicaof" in args) is replica
    if replica:
        assert args[-3:] == ["--replicaof", "svc-abcde-0.svc-abcde-hl", "6379"]
    assert not [a for a in args if "ms-replica-args" in a]


def test_the_replica_wrapper_refuses_to_guess_without_a_pod_name(tmp_path: Path) -> None:
    _, _, objects = render("valkey-8", 2)
    main = pod_of(objects)["containers"][0]
    result = subprocess.run(
        main["command"] + ["true"], env={"PATH": os.environ["PATH"]}, capture_output=True, text=True
    )
    assert result.returncode != 0 and "MS_POD_NAME" in result.stderr


# --- Env, hashes, restart token -------------------------------------------------------------


def test_effective_env_layers_defaults_generated_and_overrides() -> None:
    postgres = CATALOG.get("postgres-16")
    env = effective_env(postgres, {"POSTGRES_DB": "shop", "TZ": "UTC"}, None)
    assert env["PGDATA"] == "/var/lib/postgresql/data/pgdata"
    assert env["POSTGRES_USER"] == "app" and env["POSTGRES_DB"] == "shop" and env["TZ"] == "UTC"
    for key in ("POSTGRES_PASSWORD", "REPLICATION_PASSWORD", CONFIG_HASH_SALT_ENV):
        assert len(env[key]) == 32
        # Safe unquoted in URIs, shells, config files and argv.
        assert set(env[key]) <= set(string.ascii_letters + string.digits)
    assert env["POSTGRES_PASSWORD"] != env["REPLICATION_PASSWORD"]
    assert effective_env(postgres, {}, None)["POSTGRES_PASSWORD"] != env["POSTGRES_PASSWORD"]


def test_update_keeps_generated_secrets_unless_overridden() -> None:
    postgres = CATALOG.get("postgres-16")
    first = effective_env(postgres, {}, None)
    again = effective_env(postgres, {"TZ": "UTC"}, first)
    assert again["POSTGRES_PASSWORD"] == first["POSTGRES_PASSWORD"]
    assert again[CONFIG_HASH_SALT_ENV] == first[CONFIG_HASH_SALT_ENV]
    rotated = effective_env(postgres, {"POSTGRES_PASSWORD": "brand-new-password"}, first)
    assert rotated["POSTGRES_PASSWORD"] == "brand-new-password"
    assert rotated["REPLICATION_PASSWORD"] == first["REPLICATION_PASSWORD"]


def test_effective_env_keeps_what_the_data_directory_was_initialised_with() -> None:
    postgres = CATALOG.get("postgres-16")
    existing = {**effective_env(postgres, {}, None), "POSTGRES_USER": "legacy", "PGDATA": "/elsewhere"}
    env = effective_env(postgres, {}, existing)
    assert env["POSTGRES_USER"] == "legacy"  # immutable: the live value wins over a changed default
    assert env["PGDATA"] == "/var/lib/postgresql/data/pgdata"  # protected: always the offering's


def test_config_hash_follows_env_and_files_and_is_keyed() -> None:
    postgres = CATALOG.get("postgres-16")
    env = effective_env(postgres, {}, None)
    assert re.fullmatch(r"[0-9a-f]{64}", config_hash(postgres, env))
    assert config_hash(postgres, env) == config_hash(postgres, dict(reversed(env.items())))
    assert config_hash(postgres, {**env, "TZ": "UTC"}) != config_hash(postgres, env)
    assert config_hash(postgres, {**env, CONFIG_HASH_SALT_ENV: "other"}) != config_hash(postgres, env)
    assert config_hash(CATALOG.get("valkey-8"), env) != config_hash(postgres, env)  # files differ


def test_pod_annotations_carry_config_hash_and_restart_token() -> None:
    _, env, objects = render("valkey-8")
    annotations = by_kind(objects, "StatefulSet")["spec"]["template"]["metadata"]["annotations"]
    assert annotations[naming.ANNOTATION_CONFIG_HASH] == config_hash(CATALOG.get("valkey-8"), env)
    assert naming.ANNOTATION_RESTART_TOKEN not in annotations
    _, _, objects = render("valkey-8", restart_token="2026-01-01T00:00:00Z")
    annotations = by_kind(objects, "StatefulSet")["spec"]["template"]["metadata"]["annotations"]
    assert annotations[naming.ANNOTATION_RESTART_TOKEN] == "2026-01-01T00:00:00Z"


def test_renaming_does_not_touch_the_pod_template() -> None:
    offering = CATALOG.get("postgres-16")
    spec = make_spec("postgres-16")
    env = effective_env(offering, spec.env_overrides, None)
    before = by_kind(render_service(offering, spec, env), "StatefulSet")["spec"]["template"]
    renamed = spec.model_copy(update={"name": "orders-v2", "tags": ["x"]})
    after = by_kind(render_service(offering, renamed, env), "StatefulSet")["spec"]["template"]
    assert before == after


# --- Naming and the spec annotation ---------------------------------------------------------


def test_namespace_names_are_short_and_never_shared() -> None:
    assert naming.namespace_name("acme", "shop") == "ms-acme-shop"
    assert naming.namespace_name("acme-corp", "shop") == "ms-acme-corp--shop"
    assert naming.namespace_name("acme", "corp-shop") == "ms-acme--corp-shop"
    assert len(naming.namespace_name("a" * 20, "b" * 20)) <= 63
    with pytest.raises(InvalidInput, match="workspace_id"):
        naming.namespace_name("a--b", "shop")
    with pytest.raises(InvalidInput, match="project_id"):
        naming.namespace_name("acme", "Shop")


def test_new_service_ids_are_dns_safe_stable_prefixes_with_random_suffixes() -> None:
    ids = {naming.new_service_id("orders") for _ in range(50)}
    assert len(ids) == 50
    for service_id in ids:
        assert re.fullmatch(r"orders-[0-9a-z]{5}", service_id)
    long_id = naming.new_service_id("x" * 40)
    assert len(long_id) <= 40 and re.fullmatch(r"x{34}-[0-9a-z]{5}", long_id)
    assert re.fullmatch(r"s-9lives-[0-9a-z]{5}", naming.new_service_id("9lives"))
    assert re.fullmatch(r"my-db-[0-9a-z]{5}", naming.new_service_id("My DB!"))


def test_object_names_and_labels() -> None:
    names = naming.object_names("svc-abcde")
    assert (names.stateful_set, names.headless_service, names.read_only_service, names.secret) == (
        "svc-abcde",
        "svc-abcde-hl",
        "svc-abcde-ro",
        "svc-abcde",
    )
    assert naming.pvc_name("svc-abcde", 2) == "data-svc-abcde-2"
    labels = naming.labels(make_spec("minio"))
    assert labels["app.kubernetes.io/managed-by"] == "managed-services"
    assert {k: labels[k] for k in ("managed-services.io/workspace-id", "managed-services.io/slug")} == {
        "managed-services.io/workspace-id": "acme",
        "managed-services.io/slug": "minio",
    }
    assert naming.selector_labels("svc-abcde").items() <= labels.items()


def test_spec_annotation_round_trip_and_errors() -> None:
    spec = make_spec("postgres-16", env_overrides={"A": "1", "B": "secret"}, restart_token="t1")
    text = spec.to_annotation()
    assert json.loads(text)["env_override_keys"] == ["A", "B"] and "secret" not in text
    assert ServiceSpec.from_annotation(text, {"A": "1", "B": "secret", "OTHER": "x"}) == spec
    with pytest.raises(InvalidInput, match="does not hold: B"):
        ServiceSpec.from_annotation(text, {"A": "1"})
    with pytest.raises(InvalidInput, match="not JSON"):
        ServiceSpec.from_annotation("{", {})
    with pytest.raises(InvalidInput, match="version 2"):
        ServiceSpec.from_annotation(json.dumps({**json.loads(text), "version": 2}), {"A": "1", "B": "2"})
