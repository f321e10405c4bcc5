"""When is a managed service ready? One place, as ordered, named checks.

A service is a StatefulSet (RollingUpdate, OrderedReady). It has converged when, in order:

1. observed   the controller has seen the latest spec (status.observedGeneration >= generation)
2. created    it runs as many instances as asked (status.replicas == spec.replicas)
3. updated    every instance runs the latest revision (updatedReplicas == replicas and
              currentRevision == updateRevision, as pulumi-kubernetes' StatefulSet awaiter)
4. ready      every instance passes its readiness probe (readyReplicas == replicas)

Each check returns ok plus a sentence a person can read, so progress and timeouts say which
check is pending and why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .models import Phase, ServiceStatus

Obj = dict[str, Any]

# Pod states that will not fix themselves: report the service as failed rather than pending.
_STUCK_REASONS = frozenset(
    {"CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "CreateContainerConfigError", "InvalidImageName"}
)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    message: str


def _ints(sts: Obj) -> tuple[int, int, int, int, int, int]:
    spec, status, meta = sts.get("spec", {}), sts.get("status", {}) or {}, sts.get("metadata", {})
    return (
        int(spec.get("replicas", 1)),
        int(status.get("replicas", 0) or 0),
        int(status.get("updatedReplicas", 0) or 0),
        int(status.get("readyReplicas", 0) or 0),
        int(meta.get("generation", 0) or 0),
        int(status.get("observedGeneration", 0) or 0),
    )


def checks(sts: Obj) -> list[Check]:
    want, have, updated, ready, generation, observed = _ints(sts)
    status = sts.get("status", {}) or {}
    same_revision = status.get("currentRevision") == status.get("updateRevision") or want == 0
    return [
        Check("observed", observed >= generation, "waiting for the StatefulSet controller to see the change"),
        Check("created", have == want, f"waiting for instances: {have}/{want} created"),
        Check(
            "updated",
            want == 0 or (updated == want and same_revision),
            f"waiting for instances: {updated}/{want} on the latest configuration",
        ),
        Check("ready", ready == want, f"waiting for instances: {ready}/{want} ready"),
    ]


def first_pending(sts: Obj) -> Check | None:
    return next((check for check in checks(sts) if not check.ok), None)


def stuck_pod(pods: list[Obj]) -> str | None:
    """Why an instance cannot start by itself (image pull, crash loop), if one cannot."""
    for pod in pods:
        statuses = (pod.get("status") or {}).get("containerStatuses") or []
        statuses += (pod.get("status") or {}).get("initContainerStatuses") or []
        for container in statuses:
            waiting = (container.get("state") or {}).get("waiting") or {}
            if waiting.get("reason") in _STUCK_REASONS:
                name = pod["metadata"]["name"]
                return f"{name}: {waiting['reason']}: {waiting.get('message', '').strip()}".rstrip(": ")
    return None


def status_of(sts: Obj, pods: list[Obj]) -> ServiceStatus:
    want, _, _, ready, generation, _ = _ints(sts)
    pending = first_pending(sts)
    converged = pending is None
    stuck = stuck_pod(pods)
    phase: Phase
    if sts.get("metadata", {}).get("deletionTimestamp"):
        phase = "deleting"
    elif stuck:
        phase = "failed"
    elif converged:
        phase = "paused" if want == 0 else "running"
    elif generation <= 1:
        # The spec has not changed since create: still coming up for the first time.
        phase = "creating"
    else:
        phase = "updating"
    primary_ready = any(pod["metadata"]["name"].endswith("-0") and _pod_ready(pod) for pod in pods)
    message = stuck or (pending.message if pending else "converged")
    return ServiceStatus(
        total=want,
        ready=min(ready, want),
        available=want > 0 and primary_ready,
        converged=converged,
        phase=phase,
        message=message,
    )


def _pod_ready(pod: Obj) -> bool:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return bool(condition.get("status") == "True")
    return False


class ProgressLog:
    """Numbered progress lines, each said once ("[3/4] instances 1/2 ready")."""

    def __init__(self, sink: Callable[[str], None] | None) -> None:
        self._sink = sink
        self._last: str | None = None

    def __call__(self, sts: Obj) -> None:
        if self._sink is None:
            return
        all_checks = checks(sts)
        pending = next(((i, c) for i, c in enumerate(all_checks, 1) if not c.ok), None)
        line = (
            f"[{pending[0]}/{len(all_checks)}] {pending[1].message}"
            if pending
            else f"[{len(all_checks)}/{len(all_checks)}] ready"
        )
        if line != self._last:
            self._last = line
            self._sink(line)
