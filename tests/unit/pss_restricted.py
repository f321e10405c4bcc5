"""A checker of the Kubernetes Pod Security Standards, `restricted` profile (Linux pods).

Written from the rule list at https://kubernetes.io/docs/concepts/security/pod-security-standards/
(baseline controls, which restricted includes, then the restricted-only ones). It checks a
pod spec (and the pod's annotations) the way PodSecurity admission does for `restricted` with
`enforce-version: latest`, and returns every violation as `<field>: <rule>`; empty = passes.
Windows-only exemptions (spec.os.name: windows) are not modelled: our pods are Linux pods.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

# Baseline "Capabilities": what may be added beyond the runtime default set.
BASELINE_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)
# Baseline "Sysctls": the safe, namespaced set.
SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    }
)
# Baseline "SELinux": allowed types; user and role must be unset.
SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"})
# Restricted "Volume Types".
RESTRICTED_VOLUME_TYPES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)
APPARMOR_ANNOTATION_PREFIX = "container.apparmor.security.beta.kubernetes.io/"


def _containers(pod: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for kind in ("initContainers", "containers", "ephemeralContainers"):
        for i, container in enumerate(pod.get(kind) or []):
            yield f"spec.{kind}[{i}]", container


def check_pod(pod_spec: Mapping[str, Any], annotations: Mapping[str, str] | None = None) -> list[str]:
    """Every `restricted` violation of a pod spec; empty when the pod would be admitted."""
    violations: list[str] = []

    def fail(field: str, rule: str) -> None:
        violations.append(f"{field}: {rule}")

    pod_sc: Mapping[str, Any] = pod_spec.get("securityContext") or {}
    containers = list(_containers(pod_spec))

    # --- Baseline ---
    # HostProcess
    if (pod_sc.get("windowsOptions") or {}).get("hostProcess"):
        fail("spec.securityContext.windowsOptions.hostProcess", "must be unset or false")
    # Host namespaces
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if pod_spec.get(key):
            fail(f"spec.{key}", "must be unset or false")
    for path, c in containers:
        sc: Mapping[str, Any] = c.get("securityContext") or {}
        # Privileged containers
        if sc.get("privileged"):
            fail(f"{path}.securityContext.privileged", "must be unset or false")
        if (sc.get("windowsOptions") or {}).get("hostProcess"):
            fail(f"{path}.securityContext.windowsOptions.hostProcess", "must be unset or false")
        # Capabilities (baseline set; restricted narrows it below)
        for cap in (sc.get("capabilities") or {}).get("add") or []:
            if cap not in BASELINE_CAPABILITIES:
                fail(f"{path}.securityContext.capabilities.add", f"{cap} is not in the baseline set")
        # Host ports
        for j, port in enumerate(c.get("ports") or []):
            if port.get("hostPort"):
                fail(f"{path}.ports[{j}].hostPort", "must be unset or 0")
        # /proc mount type
        if sc.get("procMount") not in (None, "Default"):
            fail(f"{path}.securityContext.procMount", "must be unset or Default")
    # HostPath volumes (and, restricted, every non-listed volume type)
    for i, volume in enumerate(pod_spec.get("volumes") or []):
        kinds = [k for k in volume if k != "name"]
        for kind in kinds:
            if kind not in RESTRICTED_VOLUME_TYPES:
                fail(f"spec.volumes[{i}].{kind}", "volume type is not allowed by restricted")
    # AppArmor: annotations and securityContext.appArmorProfile
    for key, value in (annotations or {}).items():
        if key.startswith(APPARMOR_ANNOTATION_PREFIX) and not (
            value == "runtime/default" or value.startswith("localhost/")
        ):
            fail(f"metadata.annotations[{key}]", "must be runtime/default or localhost/*")
    for path, sc in [("spec", pod_sc), *((p, c.get("securityContext") or {}) for p, c in containers)]:
        prefix = "spec.securityContext" if path == "spec" else f"{path}.securityContext"
        profile = (sc.get("appArmorProfile") or {}).get("type")
        if profile not in (None, "RuntimeDefault", "Localhost"):
            fail(f"{prefix}.appArmorProfile.type", "must be unset, RuntimeDefault or Localhost")
        # SELinux
        selinux: Mapping[str, Any] = sc.get("seLinuxOptions") or {}
        if selinux.get("type", "") not in SELINUX_TYPES:
            fail(f"{prefix}.seLinuxOptions.type", f"must be unset or one of {sorted(SELINUX_TYPES - {''})}")
        for key in ("user", "role"):
            if selinux.get(key):
                fail(f"{prefix}.seLinuxOptions.{key}", "must be unset")
    # Sysctls
    for sysctl in pod_sc.get("sysctls") or []:
        if sysctl.get("name") not in SAFE_SYSCTLS:
            fail("spec.securityContext.sysctls", f"{sysctl.get('name')} is not a safe sysctl")

    # --- Restricted ---
    pod_non_root = pod_sc.get("runAsNonRoot")
    pod_seccomp = (pod_sc.get("seccompProfile") or {}).get("type")
    if pod_non_root is False:
        fail("spec.securityContext.runAsNonRoot", "must not be false")
    if pod_sc.get("runAsUser") == 0:
        fail("spec.securityContext.runAsUser", "must not be 0")
    if pod_seccomp not in (None, "RuntimeDefault", "Localhost"):
        fail("spec.securityContext.seccompProfile.type", "must be RuntimeDefault or Localhost")
    for path, c in containers:
        sc = c.get("securityContext") or {}
        # Privilege escalation: must be explicitly false.
        if sc.get("allowPrivilegeEscalation") is not False:
            fail(f"{path}.securityContext.allowPrivilegeEscalation", "must be false")
        # Running as non-root: true on the container, or true on the pod and not false here.
        non_root = sc.get("runAsNonRoot")
        if non_root is False or (non_root is None and pod_non_root is not True):
            fail(f"{path}.securityContext.runAsNonRoot", "must be true (here or on the pod)")
        # Running as non-root user
        if sc.get("runAsUser") == 0:
            fail(f"{path}.securityContext.runAsUser", "must not be 0")
        # Seccomp: RuntimeDefault/Localhost here, or on the pod and not overridden.
        seccomp = (sc.get("seccompProfile") or {}).get("type")
        if (seccomp if seccomp is not None else pod_seccomp) not in ("RuntimeDefault", "Localhost"):
            fail(f"{path}.securityContext.seccompProfile.type", "must be RuntimeDefault or Localhost")
        # Capabilities: drop ALL, add at most NET_BIND_SERVICE.
        caps: Mapping[str, Any] = sc.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            fail(f"{path}.securityContext.capabilities.drop", "must include ALL")
        for cap in caps.get("add") or []:
            if cap != "NET_BIND_SERVICE":
                fail(
                    f"{path}.securityContext.capabilities.add",
                    f"{cap} is not allowed (only NET_BIND_SERVICE)",
                )
    return violations
