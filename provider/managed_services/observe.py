"""Logs and metrics of a service's instances.

Logs come from the Kubernetes API (pods/log with timestamps), one request per instance,
merged by timestamp. Metrics come from Prometheus when a URL is configured (range queries
over cAdvisor series), else from metrics.k8s.io, which only knows the current sample.
Each metric is computed on its own: a failing query yields an error entry, never an
exception for the whole call.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from lightkube.resources.core_v1 import Event

from . import naming, quantities
from .errors import InvalidInput, ManagedServicesError
from .kube import Kube, Obj
from .models import LogLine, MetricPoint, MetricSeries

MAX_LOG_LIMIT = 10_000
MAX_SINCE = 30 * 24 * 3600


@dataclass(frozen=True)
class LogWindow:
    since_seconds: int | None
    start: datetime | None
    end: datetime | None
    limit: int | None


def parse_time(field: str, value: str | datetime | None) -> datetime | None:
    """ISO 8601 (`2026-11-29T07:00:00Z`, offsets allowed; naive means UTC)."""
    if value is None or isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInput(field, f"{value!r} is not an ISO 8601 time such as 2026-11-29T07:00:00Z") from None
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def _check_since(since: object) -> int | None:
    if since is None:
        return None
    if isinstance(since, bool) or not isinstance(since, int) or not 1 <= since <= MAX_SINCE:
        raise InvalidInput("since", f"must be a whole number of seconds from 1 to {MAX_SINCE}, got {since!r}")
    return since


def log_window(
    *, since: int | None, start: str | datetime | None, end: str | datetime | None, limit: int | None
) -> LogWindow:
    """Validate the time selection of a logs request (nothing is read before this passes)."""
    since = _check_since(since)
    begin, finish = parse_time("start", start), parse_time("end", end)
    if since is not None and (begin is not None or finish is not None):
        raise InvalidInput("since", "cannot be combined with start/end: give either since or a start/end range")
    if begin is not None and finish is not None and finish < begin:
        raise InvalidInput("end", f"{finish.isoformat()} is before start {begin.isoformat()}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LOG_LIMIT):
        raise InvalidInput("limit", f"must be a whole number from 1 to {MAX_LOG_LIMIT}, got {limit!r}")
    return LogWindow(since, begin, finish, limit)


def split_line(raw: str) -> tuple[datetime, str] | None:
    """`<RFC3339Nano timestamp> <text>` as the apiserver returns with timestamps=true."""
    stamp, _, text = raw.rstrip("\n").partition(" ")
    try:
        # Python parses at most microseconds: cut the nanoseconds.
        head, _, frac = stamp.rstrip("Z").partition(".")
        moment = datetime.fromisoformat(f"{head}.{(frac + '000000')[:6]}+00:00" if frac else f"{head}+00:00")
    except ValueError:
        return None
    return moment, text


def collect_logs(
    kube: Kube, namespace: str, pods: Sequence[Obj], container: str, window: LogWindow, needle: str | None
) -> list[LogLine]:
    now = datetime.now(UTC)
    since = window.since_seconds
    if since is None and window.start is not None:
        since = max(1, int((now - window.start).total_seconds()) + 1)
    lines: list[LogLine] = []
    for pod in pods:
        name = pod["metadata"]["name"]
        if (pod.get("status") or {}).get("phase") in (None, "Pending"):
            continue  # not started: the kubelet has no log yet
        for raw in kube.logs(name, namespace, container, since):
            parsed = split_line(raw)
            if parsed is None:
                continue
            moment, text = parsed
            if window.start is not None and moment < window.start:
                continue
            if window.end is not None and moment > window.end:
                continue
            if needle and needle not in text:
                continue
            lines.append(LogLine(timestamp=moment, instance=name, line=text))
    lines.sort(key=lambda line: (line.timestamp, line.instance))
    if window.limit is not None:
        lines = lines[-window.limit :]
    return lines


# -- metrics ------------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricWindow:
    start: datetime
    end: datetime
    step: int


def metric_window(
    *, since: int | None, start: str | datetime | None, end: str | datetime | None, step: int
) -> MetricWindow:
    now = datetime.now(UTC)
    begin, finish = parse_time("start", start), parse_time("end", end)
    if begin is not None or finish is not None:
        if since is not None:
            raise InvalidInput("since", "cannot be combined with start/end: give either since or a start/end range")
        finish = finish or now
        begin = begin or finish - timedelta(hours=1)
    else:
        seconds = _check_since(since) or 3600
        finish, begin = now, now - timedelta(seconds=seconds)
    if finish < begin:
        raise InvalidInput("end", f"{finish.isoformat()} is before start {begin.isoformat()}")
    if isinstance(step, bool) or not isinstance(step, int) or step < 1:
        raise InvalidInput("step", f"must be a whole number of seconds of at least 1, got {step!r}")
    return MetricWindow(begin, finish, step)


@dataclass(frozen=True)
class MetricDef:
    unit: str
    # PromQL over cAdvisor series; {selector} is the pods' label matcher.
    promql: str
    # From one PodMetrics sample set: (cpu cores per pod, memory bytes per pod) -> value.
    from_sample: Callable[[list[float], list[float]], float]
    # A total is wrong while some instances have no sample yet; an average is not.
    needs_every_instance: bool = False


METRICS: dict[str, MetricDef] = {
    "cpu_usage": MetricDef(
        unit="cores",
        promql='avg(sum by (pod) (rate(container_cpu_usage_seconds_total{{{selector},container!=""}}[2m])))',
        from_sample=lambda cpu, _mem: sum(cpu) / len(cpu) if cpu else 0.0,
    ),
    "memory_usage": MetricDef(
        unit="bytes",
        promql='sum(container_memory_working_set_bytes{{{selector},container!=""}})',
        from_sample=lambda _cpu, mem: float(sum(mem)),
        needs_every_instance=True,
    ),
}


def collect_metrics(
    kube: Kube,
    prometheus_url: str | None,
    namespace: str,
    service_id: str,
    names: list[str],
    window: MetricWindow,
    instances: int | None = None,
) -> list[MetricSeries]:
    results: list[MetricSeries] = []
    sample: tuple[list[float], list[float], datetime] | None = None
    sample_error: str | None = None
    for name in names:
        definition = METRICS.get(name)
        if definition is None:
            results.append(
                MetricSeries(name=name, status="error", error=f"unknown metric; known: {', '.join(METRICS)}")
            )
            continue
        try:
            if prometheus_url:
                points = _prometheus_range(prometheus_url, definition, namespace, service_id, window)
                results.append(
                    MetricSeries(name=name, status="ok", unit=definition.unit, points=points, source="prometheus")
                )
                continue
            if sample is None and sample_error is None:
                try:
                    sample = _pod_metrics_sample(kube, namespace, service_id)
                except ManagedServicesError as exc:
                    sample_error = str(exc)
            if sample is None:
                raise RuntimeError(sample_error or "no sample")
            cpu, mem, at = sample
            if not cpu and not mem:
                raise RuntimeError("metrics.k8s.io has no sample for this service's pods yet (paused, or just started)")
            if definition.needs_every_instance and instances is not None and len(mem) < instances:
                raise RuntimeError(
                    f"metrics.k8s.io has samples for {len(mem)} of {instances} instances yet; the total would be low"
                )
            point = MetricPoint(timestamp=at, value=definition.from_sample(cpu, mem))
            results.append(
                MetricSeries(name=name, status="ok", unit=definition.unit, points=[point], source="metrics.k8s.io")
            )
        except Exception as exc:  # one metric's failure must not fail the others
            results.append(MetricSeries(name=name, status="error", unit=definition.unit, error=str(exc)))
    return results


def _pod_metrics_sample(kube: Kube, namespace: str, service_id: str) -> tuple[list[float], list[float], datetime]:
    items = kube.pod_metrics(namespace, naming.selector_labels(service_id))
    cpu: list[float] = []
    mem: list[float] = []
    latest = datetime.now(UTC)
    for item in items:
        containers = item.get("containers") or []
        cpu.append(sum(quantities.quantity_millicores(c["usage"]["cpu"]) for c in containers) / 1000.0)
        mem.append(float(sum(quantities.quantity_bytes(c["usage"]["memory"]) for c in containers)))
        if item.get("timestamp"):
            latest = datetime.fromisoformat(str(item["timestamp"]).replace("Z", "+00:00"))
    return cpu, mem, latest


def _prometheus_range(
    url: str, definition: MetricDef, namespace: str, service_id: str, window: MetricWindow
) -> list[MetricPoint]:
    selector = f'namespace="{namespace}",pod=~"{service_id}-[0-9]+"'
    query = definition.promql.format(selector=selector)
    params = urllib.parse.urlencode(
        {
            "query": query,
            "start": window.start.timestamp(),
            "end": window.end.timestamp(),
            "step": window.step,
        }
    )
    with urllib.request.urlopen(f"{url.rstrip('/')}/api/v1/query_range?{params}", timeout=30) as response:
        body: dict[str, Any] = json.load(response)
    if body.get("status") != "success":
        raise RuntimeError(f"prometheus: {body.get('error', 'query failed')}")
    series = body["data"]["result"]
    if not series:
        return []
    return [
        MetricPoint(timestamp=datetime.fromtimestamp(float(t), UTC), value=float(v)) for t, v in series[0]["values"]
    ]


def last_warning(kube: Kube, namespace: str, service_id: str) -> str | None:
    """The newest Warning event about the service's StatefulSet or pods (why pods do not appear)."""
    try:
        events = kube.list(Event, namespace=namespace)
    except ManagedServicesError:
        return None
    ours = [
        e
        for e in events
        if e.get("type") == "Warning" and str((e.get("involvedObject") or {}).get("name", "")).startswith(service_id)
    ]
    if not ours:
        return None
    newest = max(ours, key=lambda e: str(e.get("lastTimestamp") or e.get("eventTime") or ""))
    return f"{newest.get('reason')}: {newest.get('message')}"
