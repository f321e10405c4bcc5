"""The local cluster: kwokctl's binary runtime over our own builds, on loopback only.

What `up` guarantees once it returns:
- kube-apiserver (RBAC, default admission plugins incl. PodSecurity), etcd,
  kube-controller-manager, kube-scheduler, kwok and metrics-server run as local processes;
- three fake nodes are Ready; pods scheduled on them become Running/Ready with an IP, and
  pods with a deletionTimestamp are deleted (kwok's default stages);
- claims of the default StorageClass `kwok-volume` are bound to a new PV, and grow in place
  when their request grows (kwok's volume stages plus our `pvc-resize` stage);
- every container's log is served from one CRI-format file fed by `log_writer`;
- every container reports CPU and memory usage to metrics-server (PodMetrics).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from . import paths, tools

CLUSTER_NAME = "managed-services"
NODE_COUNT = 3
KWOK_DIR = paths.TESTBED_DIR / "kwok"
Log = Callable[[str], None]


class TestbedError(RuntimeError):
    """The testbed could not do what was asked; the message says what and why."""


@dataclass(frozen=True)
class State:
    running: bool
    kubeconfig: Path
    detail: str

    def describe(self) -> str:
        if self.running:
            return f"up: kubeconfig {self.kubeconfig} ({self.detail})"
        return f"down ({self.detail})"


def kwok_workdir() -> Path:
    return paths.state_dir() / "kwok"


def cluster_dir() -> Path:
    return kwok_workdir() / "clusters" / CLUSTER_NAME


def log_file() -> Path:
    return paths.state_dir() / "logs" / "containers.log"


def _log_writer_pidfile() -> Path:
    return paths.state_dir() / "log-writer.pid"


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    # Parallel test sessions share one cluster: only one may start or stop it at a time.
    lock = paths.cache_root() / "testbed.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _env(bin_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    # kwokctl runs `kubectl` from PATH: ours must come first.
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env["KWOK_WORKDIR"] = str(kwok_workdir())
    env.pop("KUBECONFIG", None)
    return env


def _component_pids() -> dict[str, int]:
    pids = {}
    for pidfile in (cluster_dir() / "pids").glob("*.pid"):
        with contextlib.suppress(ValueError, OSError):
            pids[pidfile.stem] = int(pidfile.read_text().strip())
    return pids


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def _is_ours(component: str, pid: int) -> bool:
    """The pid still runs this cluster's component (a stale pid file may name a reused pid)."""
    return _cmdline(pid)[:1] == [str(cluster_dir() / "bin" / component)]


def _log_writer_pid() -> int | None:
    with contextlib.suppress(ValueError, OSError):
        pid = int(_log_writer_pidfile().read_text().strip())
        if "tests.testbed.log_writer" in _cmdline(pid):
            return pid
    return None


def _apiserver_ready(bin_dir: Path) -> bool:
    kubeconfig = paths.kubeconfig_path()
    if not kubeconfig.exists():
        return False
    proc = subprocess.run(
        [
            str(bin_dir / "kubectl"),
            "--kubeconfig",
            str(kubeconfig),
            "--request-timeout=5s",
            "get",
            "--raw",
            "/readyz",
        ],
        capture_output=True,
        text=True,
    )
    return proc.returncode == 0 and proc.stdout.strip() == "ok"


def status() -> State:
    kubeconfig = paths.kubeconfig_path()
    pids = _component_pids()
    if not pids:
        return State(False, kubeconfig, "no testbed cluster has been started")
    dead = sorted(name for name, pid in pids.items() if not _is_ours(name, pid))
    if dead:
        return State(False, kubeconfig, f"stale state: {', '.join(dead)} not running")
    if not _apiserver_ready(tools.ensure_built()):
        return State(False, kubeconfig, "processes run but kube-apiserver is not ready")
    return State(True, kubeconfig, f"{len(pids)} components running")


def up(log: Log = print) -> Path:
    """Start the cluster, or reuse the running one; return the kubeconfig path."""
    bin_dir = tools.ensure_built()
    with _locked():
        current = status()
        if current.running:
            log(f"testbed already up; reusing it ({current.detail})")
            return current.kubeconfig
        if cluster_dir().exists() or _log_writer_pidfile().exists():
            log(f"cleaning up a previous testbed ({current.detail})")
            _down(log)
        started = time.monotonic()
        _check_port()
        paths.state_dir().mkdir(parents=True, exist_ok=True)
        _start_log_writer()
        config = _write_config(bin_dir)
        log("[1/3] starting etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok, metrics-server")
        _kwokctl(bin_dir, ["create", "cluster", "--runtime", "binary", *config, "--wait", "3m"], log)
        shutil.copyfile(cluster_dir() / "kubeconfig.yaml", paths.kubeconfig_path())
        log(f"[2/3] adding {NODE_COUNT} fake nodes and the default StorageClass")
        _kubectl(bin_dir, ["apply", "-f", str(KWOK_DIR / "storage-class.yaml")])
        _kubectl(bin_dir, ["apply", "-f", "-"], stdin=yaml.safe_dump_all(_nodes()))
        log("[3/3] waiting for the nodes to be Ready")
        _kubectl(bin_dir, ["wait", "--for=condition=Ready", "node", "--all", "--timeout=120s"])
        dead = [name for name, pid in _component_pids().items() if not _is_ours(name, pid)]
        if dead:
            logs = ", ".join(str(cluster_dir() / "logs" / f"{name}.log") for name in dead)
            raise TestbedError(f"{', '.join(dead)} exited right after start; see {logs}")
        log(f"testbed up in {time.monotonic() - started:.1f}s; kubeconfig: {paths.kubeconfig_path()}")
        return paths.kubeconfig_path()


def down(log: Log = print) -> None:
    """Stop everything `up` started and remove its state; a no-op when nothing runs."""
    with _locked():
        if not cluster_dir().exists() and not _log_writer_pidfile().exists():
            log("testbed is not running; nothing to do")
            shutil.rmtree(paths.state_dir(), ignore_errors=True)
            return
        _down(log)
        log("testbed down")


def _down(log: Log) -> None:
    # What `kwokctl delete cluster` does (kill the recorded pids, remove the cluster's
    # directory), except that a pid is only signalled while it still runs our binary: after
    # a reboot or a crash the pid files may name unrelated processes.
    writer = _log_writer_pid()
    if writer is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(writer, signal.SIGTERM)
    # SIGKILL, as kwokctl does: the cluster's data is thrown away, so a graceful apiserver
    # shutdown (tens of seconds) buys nothing.
    for name, pid in _component_pids().items():
        if _is_ours(name, pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
    shutil.rmtree(paths.state_dir(), ignore_errors=True)


def _check_port() -> None:
    wanted = os.environ.get("MANAGED_SERVICES_TESTBED_PORT")
    if not wanted:
        return  # kwokctl picks free ports itself
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", int(wanted)))
        except OSError as exc:
            raise TestbedError(
                f"port {wanted} (MANAGED_SERVICES_TESTBED_PORT, for kube-apiserver) is taken: {exc.strerror}"
            ) from exc


def _start_log_writer() -> None:
    log_file().parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.testbed.log_writer", str(log_file())],
        cwd=paths.REPO_ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=(paths.state_dir() / "log-writer.err").open("w"),
        start_new_session=True,
    )
    _log_writer_pidfile().write_text(f"{proc.pid}\n")
    # kwok fails a log request for a file that does not exist yet.
    deadline = time.monotonic() + 10
    while not log_file().exists():
        if time.monotonic() > deadline or proc.poll() is not None:
            raise TestbedError(f"the log writer did not start; see {paths.state_dir() / 'log-writer.err'}")
        time.sleep(0.05)


def _kwok_module_dir() -> Path:
    proc = subprocess.run(
        ["go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/kwok"],
        cwd=paths.TOOLS_DIR / "kwok",
        env=tools.go_env(),
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0 or not proc.stdout.strip():
        raise TestbedError(f"cannot locate kwok's module (for its stages): {proc.stderr.strip()}")
    return Path(proc.stdout.strip())


def _write_config(bin_dir: Path) -> list[str]:
    """Write our kwokctl configuration; return the `--config` arguments."""
    options = {
        "runtime": "binary",
        "bindAddress": "127.0.0.1",
        "kubeAuthorization": True,
        "kubeAdmission": True,
        "disableQPSLimits": True,
        "enable": ["metrics-server"],
        "kubeApiserverBinary": str(bin_dir / "kube-apiserver"),
        "kubeControllerManagerBinary": str(bin_dir / "kube-controller-manager"),
        "kubeSchedulerBinary": str(bin_dir / "kube-scheduler"),
        "kwokControllerBinary": str(bin_dir / "kwok"),
        "etcdBinary": str(bin_dir / "etcd"),
        "etcdctlBinary": str(bin_dir / "etcdctl"),
        "metricsServerBinary": str(bin_dir / "metrics-server"),
        "kubectlBinary": str(bin_dir / "kubectl"),
        "metricsServerManifests": [str(KWOK_DIR / "metrics-server")],
    }
    if os.environ.get("MANAGED_SERVICES_TESTBED_PORT"):
        options["kubeApiserverPort"] = int(os.environ["MANAGED_SERVICES_TESTBED_PORT"])
    documents = [
        {
            "apiVersion": "config.kwok.x-k8s.io/v1alpha1",
            "kind": "KwokctlConfiguration",
            "options": options,
            "componentsPatches": [
                {
                    # Nodes have no InternalIP; kwok serves them on localhost.
                    "name": "metrics-server",
                    "extraArgs": [
                        {"key": "kubelet-preferred-address-types", "value": "Hostname", "override": True},
                        # The first PodMetrics of a new pod need two scrapes: keep that short.
                        {"key": "metric-resolution", "value": "10s", "override": True},
                        {"key": "kubelet-request-timeout", "value": "5s"},
                    ],
                },
                {
                    # The default /24 leaves room for too few Services for the benchmarks.
                    "name": "kube-apiserver",
                    "extraArgs": [{"key": "service-cluster-ip-range", "value": "10.96.0.0/16"}],
                },
            ],
        },
        {
            "apiVersion": "kwok.x-k8s.io/v1alpha1",
            "kind": "ClusterLogs",
            "metadata": {"name": "all-containers"},
            # No selector and no container list: every container of every pod.
            "spec": {"logs": [{"logsFile": str(log_file()), "follow": True}]},
        },
        {
            "apiVersion": "kwok.x-k8s.io/v1alpha1",
            "kind": "ClusterResourceUsage",
            "metadata": {"name": "all-containers"},
            "spec": {
                "usages": [
                    {"usage": {"cpu": {"value": "25m"}, "memory": {"value": "48Mi"}}},
                ]
            },
        },
    ]
    config = paths.state_dir() / "kwokctl.yaml"
    text = yaml.safe_dump_all(documents) + "---\n" + (KWOK_DIR / "pvc-resize-stage.yaml").read_text()
    config.write_text(text)
    stages = _kwok_module_dir() / "kustomize" / "stage"
    # Supplying any Stage replaces kwok's defaults, so the default node and pod stages
    # (stage/fast) are passed again beside the volume stages.
    return [
        "--name",
        CLUSTER_NAME,
        "--kubeconfig=",
        "--config",
        str(config),
        "--config",
        str(stages / "fast"),
        "--config",
        str(stages / "volume" / "fast"),
    ]


def _nodes() -> list[dict[str, object]]:
    nodes: list[dict[str, object]] = []
    for index in range(NODE_COUNT):
        name = f"kwok-node-{index}"
        cidr = f"10.244.{index}.0/24"
        nodes.append(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": name,
                    "annotations": {
                        "kwok.x-k8s.io/node": "fake",
                        "node.alpha.kubernetes.io/ttl": "0",
                        # metrics-server scrapes kwok's per-node endpoint at this path.
                        "metrics.k8s.io/resource-metrics-path": f"/metrics/nodes/{name}/metrics/resource",
                    },
                    "labels": {
                        "kubernetes.io/hostname": name,
                        "kubernetes.io/os": "linux",
                        "kubernetes.io/arch": "amd64",
                        "type": "kwok",
                    },
                },
                "spec": {"podCIDR": cidr, "podCIDRs": [cidr]},
                # No Ready condition: kwok's node-initialize stage fills in status.
                "status": {
                    "allocatable": {"cpu": "32", "memory": "256Gi", "pods": "110"},
                    "capacity": {"cpu": "32", "memory": "256Gi", "pods": "110"},
                },
            }
        )
    return nodes


def _kwokctl(bin_dir: Path, args: list[str], log: Log) -> None:
    cmd = [str(bin_dir / "kwokctl"), *args]
    proc = subprocess.run(cmd, env=_env(bin_dir), capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-20:])
        raise TestbedError(f"`kwokctl {' '.join(args[:2])}` failed (logs in {cluster_dir() / 'logs'}):\n{tail}")


def _kubectl(bin_dir: Path, args: list[str], stdin: str | None = None) -> str:
    cmd = [str(bin_dir / "kubectl"), "--kubeconfig", str(paths.kubeconfig_path()), *args]
    proc = subprocess.run(cmd, input=stdin, capture_output=True, text=True)
    if proc.returncode != 0:
        raise TestbedError(f"`kubectl {' '.join(args)}` failed: {proc.stderr.strip()}")
    return proc.stdout
