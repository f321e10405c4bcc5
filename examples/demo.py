"""`make demo`: the quickstart stack with the real Pulumi CLI, then what it made.

Runs on the cluster KUBECONFIG (or ~/.kube/config) points at when there is one, else on
the local testbed, started on demand. `make demo-down` destroys the stack.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from pulumi import automation as auto

from examples._stack import open_stack
from managed_services import ManagedServices, MetricSeries

PROJECT_DIR = Path(__file__).resolve().parent / "python-quickstart"
STACK = os.environ.get("MANAGED_SERVICES_DEMO_STACK", "demo")
# The quickstart's `workspace` config (default acme): lets tests run the demo side by side.
WORKSPACE = os.environ.get("MANAGED_SERVICES_DEMO_WORKSPACE")
SERVICES = ("orders_db", "sessions", "assets")


def _config() -> dict[str, str]:
    return {"managed-services-quickstart:workspace": WORKSPACE} if WORKSPACE else {}


def configured_kubeconfig() -> Path | None:
    """The user's cluster, if one is configured."""
    if os.environ.get("KUBECONFIG"):
        return Path(os.environ["KUBECONFIG"].split(os.pathsep)[0])
    default = Path.home() / ".kube" / "config"
    return default if default.exists() else None


def kubeconfig_for_demo() -> Path:
    user = configured_kubeconfig()
    if user is not None:
        print(f"using the cluster configured in {user}")
        return user
    from tests.testbed import cluster

    print("no cluster configured (KUBECONFIG, ~/.kube/config): starting the local testbed")
    return cluster.up(log=lambda line: print(f"  {line}", flush=True))


def _human(value: float, unit: str | None) -> str:
    if unit == "bytes":
        return f"{value / 2**20:.1f} MiB"
    return f"{value:.3f} {unit}"


def first_metrics(engine: ManagedServices, service_id: str, patience: float = 60.0) -> list[MetricSeries]:
    """Metrics of a service; a pod's first sample takes two scrapes, so wait for it a little."""
    deadline = time.monotonic() + patience
    while True:
        series = engine.metrics(service_id, since=600)
        if all(s.status == "ok" for s in series) or time.monotonic() > deadline:
            return series
        time.sleep(3)


def up() -> int:
    kubeconfig = kubeconfig_for_demo()
    stack = open_stack(PROJECT_DIR, STACK, kubeconfig=kubeconfig, config=_config())
    # The local cluster may have been recreated since the last demo: refresh first, so
    # services that no longer exist drop out of the state and `up` creates them again.
    print(f"\n$ pulumi refresh --stack {STACK}")
    stack.refresh(on_output=print)
    print(f"\n$ pulumi up --stack {STACK}   (project {PROJECT_DIR.name})")
    result = stack.up(on_output=lambda line: print(line, flush=True))
    print("\nStack outputs (secrets masked):")
    width = max(len(key) for key in result.outputs)
    for key, output in sorted(result.outputs.items()):
        shown = "[secret]" if output.secret else output.value
        print(f"  {key:<{width}}  {shown}")
    with ManagedServices(kubeconfig) as engine:
        for key in SERVICES:
            service_id = result.outputs[f"{key}_id"].value
            service = engine.get(service_id)
            status = engine.status(service_id)
            print(f"\n== {key}: {service.slug} ({service_id}) in namespace {service.namespace}")
            print(
                f"   status: {status.phase}, {status.ready}/{status.total} ready, "
                f"available={status.available}, converged={status.converged}"
            )
            print(f"   image:  {service.image}")
            print(f"   uri:    {service.connection.uri}")
            print("   recent logs:")
            for line in engine.logs(service_id, since=60, limit=5):
                print(f"     {line.timestamp:%H:%M:%S} {line.instance} {line.line}")
            print("   metrics:")
            for series in first_metrics(engine, service_id):
                if series.status == "ok" and series.points:
                    print(f"     {series.name:<13} {_human(series.points[-1].value, series.unit)} ({series.source})")
                else:
                    print(f"     {series.name:<13} unavailable: {series.error}")
    print("\nmake demo-down destroys the stack.")
    return 0


def down() -> int:
    kubeconfig = configured_kubeconfig()
    if kubeconfig is None:
        from tests.testbed import cluster

        if not cluster.status().running:
            print("the testbed is not running: nothing to destroy")
            return 0
        kubeconfig = cluster.up(log=print)
    stack = open_stack(PROJECT_DIR, STACK, kubeconfig=kubeconfig, config=_config())
    stack.destroy(on_output=lambda line: print(line, flush=True))
    stack.workspace.remove_stack(STACK)
    print("\nstack destroyed; `make testbed-down` stops the local cluster")
    return 0


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "up"
    try:
        sys.exit(up() if command == "up" else down())
    except auto.CommandError as exc:
        first = str(exc).strip().splitlines()[0]
        print(f"\ndemo failed: pulumi exited with an error (see the output above): {first}")
        sys.exit(1)
