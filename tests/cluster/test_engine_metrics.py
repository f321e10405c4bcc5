"""Metrics from metrics.k8s.io: cpu_usage is the average cores per instance, memory_usage the
total bytes of all instances; each metric has its own status, so an unknown one fails alone.

The testbed's metrics-server reports 48Mi memory and about 25m CPU (a rate, so it jitters by a
few percent) for every container, and only after a couple of scrapes (20-40 s after a pod
starts): the tests poll for up to 90 s.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from managed_services import ManagedService, ManagedServices, MetricSeries

PROJECT = "metrics"
CPU_PER_POD = 0.025
MEMORY_PER_POD = 48 * 1024**2


@dataclass(frozen=True)
class Made:
    single: ManagedService
    pair: ManagedService


@pytest.fixture(scope="module")
def made(ms: ManagedServices, workspace: str) -> Made:
    # Both at once, so their pods' first samples come in together.
    single = ms.create(workspace_id=workspace, project_id=PROJECT, name="one", slug="valkey-8", volume_size="1Gi")
    pair = ms.create(
        workspace_id=workspace, project_id=PROJECT, name="two", slug="postgres-16", volume_size="1Gi", instances=2
    )
    return Made(single, pair)


def by_name(series: list[MetricSeries]) -> dict[str, MetricSeries]:
    return {s.name: s for s in series}


def poll(
    ms: ManagedServices,
    service_id: str,
    names: list[str],
    done: Callable[[dict[str, MetricSeries]], bool],
    timeout: float = 90,
) -> dict[str, MetricSeries]:
    deadline = time.monotonic() + timeout
    while True:
        got = by_name(ms.metrics(service_id, names=names))
        if done(got) or time.monotonic() > deadline:
            return got
        time.sleep(2)


def both_ok(got: dict[str, MetricSeries]) -> bool:
    return all(got[n].status == "ok" and got[n].points for n in ("cpu_usage", "memory_usage"))


def test_one_instance_reports_its_cpu_and_memory(made: Made, ms: ManagedServices) -> None:
    got = poll(ms, made.single.id, ["cpu_usage", "memory_usage"], both_ok)
    assert list(got) == ["cpu_usage", "memory_usage"]
    cpu, memory = got["cpu_usage"], got["memory_usage"]
    assert cpu.status == "ok" and memory.status == "ok", (cpu.error, memory.error)
    assert (cpu.unit, memory.unit) == ("cores", "bytes")
    assert len(cpu.points) >= 1 and len(memory.points) >= 1
    assert cpu.points[-1].value == pytest.approx(CPU_PER_POD, rel=0.1)
    assert memory.points[-1].value == MEMORY_PER_POD


def test_cpu_is_averaged_and_memory_summed_over_instances(made: Made, ms: ManagedServices) -> None:
    def both_pods_sampled(got: dict[str, MetricSeries]) -> bool:
        return both_ok(got) and got["memory_usage"].points[-1].value >= 2 * MEMORY_PER_POD

    got = poll(ms, made.pair.id, ["cpu_usage", "memory_usage"], both_pods_sampled)
    cpu, memory = got["cpu_usage"], got["memory_usage"]
    assert cpu.status == "ok" and memory.status == "ok", (cpu.error, memory.error)
    assert memory.points[-1].value == 2 * MEMORY_PER_POD, "memory is the total of both instances"
    assert cpu.points[-1].value == pytest.approx(CPU_PER_POD, rel=0.1), "cpu is the average per instance, not the sum"


def test_unknown_metric_fails_alone(made: Made, ms: ManagedServices) -> None:
    got = poll(ms, made.single.id, ["cpu_usage", "no_such_metric", "memory_usage"], both_ok)
    assert list(got) == ["cpu_usage", "no_such_metric", "memory_usage"]
    unknown = got["no_such_metric"]
    assert unknown.status == "error"
    assert unknown.error and "cpu_usage" in unknown.error, "the error lists the known metrics"
    assert unknown.points == []
    assert got["cpu_usage"].status == "ok" and got["memory_usage"].status == "ok"


def test_a_paused_service_reports_errors_not_an_exception(made: Made, ms: ManagedServices) -> None:
    ms.scale(made.single.id, 0, wait=True)
    try:
        got = by_name(ms.metrics(made.single.id))
        assert [(s.name, s.status) for s in got.values()] == [("cpu_usage", "error"), ("memory_usage", "error")]
        assert all(s.error and s.points == [] for s in got.values())
    finally:
        ms.scale(made.single.id, 1, wait=True)
