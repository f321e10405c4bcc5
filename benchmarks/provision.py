"""Provisioning speed and API cost of the engine, against kubectl doing the same work.

For N services (1 and 20 by default) on the same cluster, in one run:
- engine:  `ManagedServices.create(wait=False)` for each, then `wait()` for each;
- kubectl: `kubectl apply --server-side` of the very manifests the engine renders, then
           `kubectl rollout status` for each StatefulSet.
Reports wall-clock times and their ratio, and the Kubernetes API requests (reads, writes)
each engine operation sends. Targets: engine <= 1.2x kubectl; <= 6 writes per create.

    python benchmarks/provision.py [--counts 1,20] [--kubeconfig PATH]

Without --kubeconfig (or MANAGED_SERVICES_TEST_KUBECONFIG) the local testbed is used.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from managed_services import (
    ManagedServices,
    naming,
    quantities,
    render,
)
from managed_services.spec import Resources, ServiceSpec
from tests.testbed import cluster, tools

SLUG = "valkey-8"


def kubectl_run(kubeconfig: Path, count: int, kubectl: Path) -> float:
    """Apply the rendered manifests of `count` services with kubectl and wait for each."""
    ms = ManagedServices(kubeconfig)
    offering = ms.catalog.get(SLUG)
    workspace = f"bk{uuid.uuid4().hex[:6]}"
    namespace = naming.namespace_name(workspace, "p")
    documents = [render.render_namespace(workspace, "p")]
    ids = []
    for i in range(count):
        spec = ServiceSpec(
            workspace_id=workspace,
            project_id="p",
            service_id=naming.new_service_id(f"svc{i}"),
            name=f"svc{i}",
            slug=SLUG,
            volume_size=quantities.canonical_storage(offering.storage.default_size),
            resources=Resources(),
        )
        ids.append(spec.service_id)
        documents += render.render_service(offering, spec, render.effective_env(offering, {}))
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
        yaml.safe_dump_all(documents, handle)
    base = [str(kubectl), "--kubeconfig", str(kubeconfig)]
    started = time.perf_counter()
    subprocess.run([*base, "apply", "--server-side", "-f", handle.name], check=True, capture_output=True)
    for service_id in ids:
        subprocess.run(
            [*base, "rollout", "status", f"statefulset/{service_id}", "-n", namespace, "--timeout=300s"],
            check=True,
            capture_output=True,
        )
    elapsed = time.perf_counter() - started
    subprocess.run([*base, "delete", "namespace", namespace, "--wait=false"], check=True, capture_output=True)
    os.unlink(handle.name)
    return elapsed


def engine_run(kubeconfig: Path, count: int) -> tuple[float, dict[str, tuple[float, float]]]:
    """Create `count` services with the engine and wait for each; also measure per-operation requests."""
    workspace = f"be{uuid.uuid4().hex[:6]}"
    ms = ManagedServices(kubeconfig)
    ms.catalog.get(SLUG)  # load the catalog outside the timing
    costs: dict[str, list[tuple[int, int]]] = {}

    def cost(name: str) -> None:
        costs.setdefault(name, []).append((ms.kube.stats.reads, ms.kube.stats.writes))
        ms.kube.stats.reset()

    ms.kube.stats.reset()
    started = time.perf_counter()
    ids = []
    for i in range(count):
        ids.append(ms.create(workspace_id=workspace, project_id="p", name=f"svc{i}", slug=SLUG, wait=False).id)
        cost("create (no wait)")
    for service_id in ids:
        ms.wait(service_id)
        cost("wait until ready")
    elapsed = time.perf_counter() - started
    first = ids[0]
    ms.get(first)
    cost("get")
    ms.status(first)
    cost("status")
    ms.list(workspace_id=workspace, project_id="p")
    cost(f"list ({count} services)")
    ms.update(first, tags=["bench"], wait=False)
    cost("update tags (no wait)")
    ms.restart(first)
    cost("restart")
    ms.scale(first, 0)
    cost("scale to 0")
    for service_id in ids:
        ms.delete(service_id, wait=False)
        cost("delete (no wait)")
    averages = {
        name: (sum(r for r, _ in values) / len(values), sum(w for _, w in values) / len(values))
        for name, values in costs.items()
    }
    return elapsed, averages


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--counts", default="1,20", help="comma-separated service counts (default 1,20)")
    parser.add_argument("--kubeconfig", type=Path, default=os.environ.get("MANAGED_SERVICES_TEST_KUBECONFIG"))
    args = parser.parse_args()
    kubeconfig = args.kubeconfig or cluster.up(log=lambda line: print(line, file=sys.stderr))
    kubectl = tools.ensure_built() / "kubectl"
    print(f"cluster: {kubeconfig}; offering: {SLUG}\n")
    print(f"{'services':>8}  {'engine s':>9}  {'kubectl s':>9}  {'ratio':>6}  target <= 1.20")
    costs: dict[str, tuple[float, float]] = {}
    for count in (int(c) for c in args.counts.split(",")):
        baseline = kubectl_run(kubeconfig, count, kubectl)
        elapsed, costs = engine_run(kubeconfig, count)
        print(f"{count:>8}  {elapsed:>9.2f}  {baseline:>9.2f}  {elapsed / baseline:>6.2f}")
    print("\nKubernetes API requests per operation (average, last run):")
    print(f"  {'operation':<24} {'reads':>6} {'writes':>6}")
    for name, (reads, writes) in costs.items():
        print(f"  {name:<24} {reads:>6.1f} {writes:>6.1f}")
    print("  target: <= 6 writes per create")
    return 0


if __name__ == "__main__":
    sys.exit(main())
