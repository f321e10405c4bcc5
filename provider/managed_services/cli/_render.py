"""Pure rendering: the JSON envelope, aligned text tables, sparklines. No I/O, no engine calls."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from ..models import LogLine, ManagedService, MetricSeries, ServiceStatus
from ..models import Offering as OfferingView

Status = Literal["ok", "error"]

_SPARKS = "▁▂▃▄▅▆▇█"
_BAR_WIDTH = 24


def envelope(status: Status, message: str, data: Any) -> dict[str, Any]:
    """What `--output json` prints, for success and failure alike."""
    return {"status": status, "message": message, "data": data}


def to_json(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False)


# -- building blocks ------------------------------------------------------------------------


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns two spaces apart, upper-case headers, no trailing blanks."""
    all_rows = [[h.upper() for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in all_rows) for i in range(len(headers))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in all_rows]
    return "\n".join(lines)


def pairs(rows: Sequence[tuple[str, str]]) -> str:
    """`KEY  value` lines with the values aligned; a multi-line value stays in its column."""
    width = max((len(key) for key, _ in rows), default=0)
    lines: list[str] = []
    for key, value in rows:
        first, *rest = value.split("\n") if value else [""]
        lines.append(f"{key.upper().ljust(width)}  {first}".rstrip())
        lines += [f"{' ' * width}  {more}".rstrip() for more in rest]
    return "\n".join(lines)


def timestamp(moment: datetime | None) -> str:
    """UTC, fixed width, to the microsecond: `2026-11-29T07:03:22.070109Z`."""
    if moment is None:
        return "-"
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _seconds(moment: datetime | None) -> str:
    if moment is None:
        return "-"
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def sparkline(values: Sequence[float]) -> str:
    """One block character per value, scaled between the series' min and max."""
    if not values:
        return ""
    low, high = min(values), max(values)
    if high == low:
        return _SPARKS[len(_SPARKS) // 2 if high else 0] * len(values)
    span = high - low
    return "".join(_SPARKS[min(len(_SPARKS) - 1, int((v - low) / span * len(_SPARKS)))] for v in values)


def bar(value: float, maximum: float, width: int = _BAR_WIDTH) -> str:
    """A horizontal bar of `value` against `maximum` (eighths of a cell for precision)."""
    if maximum <= 0 or value <= 0:
        return ""
    eighths = round(min(value / maximum, 1.0) * width * 8)
    full, part = divmod(eighths, 8)
    return "█" * full + (" ▏▎▍▌▋▊▉"[part] if part else "")


def format_value(value: float, unit: str | None) -> str:
    """A metric value for people: bytes in binary units, cores in millicores below one core."""
    if unit == "bytes":
        size = float(value)
        for suffix in ("B", "KiB", "MiB", "GiB", "TiB"):
            if abs(size) < 1024 or suffix == "TiB":
                return f"{size:.0f} {suffix}" if suffix == "B" else f"{size:.1f} {suffix}"
            size /= 1024
    if unit == "cores":
        return f"{value * 1000:.1f}m" if abs(value) < 1 else f"{value:.3f}"
    return f"{value:g}"


# -- one renderer per result -----------------------------------------------------------------


def service_text(svc: ManagedService) -> str:
    conn = svc.connection
    rows: list[tuple[str, str]] = [
        ("id", svc.id),
        ("name", svc.name),
        ("offering", svc.slug),
        ("workspace", svc.workspace_id),
        ("project", svc.project_id),
        ("namespace", svc.namespace),
        ("image", svc.image),
        ("instances", str(svc.instances)),
        ("volume size", svc.volume_size),
        ("cpu", svc.resources.cpu or "-"),
        ("memory", svc.resources.memory or "-"),
        ("tags", ", ".join(svc.tags) or "-"),
        ("env", "\n".join(f"{k}={v}" for k, v in svc.env.items()) or "-"),
        ("created", _seconds(svc.created_at)),
        ("host", conn.host),
        ("port", str(conn.port)),
        ("username", conn.username or "-"),
        ("password", conn.password or "-"),
        ("uri", conn.uri),
    ]
    if conn.read_only_host:
        rows.append(("read-only host", conn.read_only_host))
    return pairs(rows)


def services_table(services: Sequence[ManagedService]) -> str:
    return table(
        ["id", "name", "offering", "instances", "volume", "cpu", "memory", "tags", "created"],
        [
            [
                s.id,
                s.name,
                s.slug,
                str(s.instances),
                s.volume_size,
                s.resources.cpu or "-",
                s.resources.memory or "-",
                ",".join(s.tags) or "-",
                _seconds(s.created_at),
            ]
            for s in services
        ],
    )


def status_text(service_id: str, status: ServiceStatus) -> str:
    return pairs(
        [
            ("id", service_id),
            ("phase", status.phase),
            ("ready", f"{status.ready}/{status.total}"),
            ("available", _yes(status.available)),
            ("converged", _yes(status.converged)),
            ("message", status.message or "-"),
        ]
    )


def offerings_table(offerings: Sequence[OfferingView]) -> str:
    return table(
        ["slug", "name", "image", "port", "volume", "scaling"],
        [[o.slug, o.display_name, o.image, str(o.port), o.default_volume_size, scaling_rule(o)] for o in offerings],
    )


def scaling_rule(offering: OfferingView) -> str:
    if offering.replicas == "read-replicas":
        return f"1 primary + read replicas, up to {offering.max_instances} instances"
    if offering.max_instances == 1:
        return "single instance"
    return f"up to {offering.max_instances} instances"


def log_line(line: LogLine) -> str:
    return f"{timestamp(line.timestamp)} {line.instance} {line.line}"


def metrics_text(series: Sequence[MetricSeries]) -> str:
    """A block per metric: a header with the trend, then a table of points with bars."""
    blocks: list[str] = []
    for metric in series:
        head = f"{metric.name} ({metric.unit})" if metric.unit else metric.name
        if metric.status == "error":
            blocks.append(f"{head}  error: {metric.error or 'unknown error'}")
            continue
        values = [p.value for p in metric.points]
        source = f"  via {metric.source}" if metric.source else ""
        if not values:
            blocks.append(f"{head}  ok{source}  no points in the window")
            continue
        if len(values) == 1:
            # One sample (metrics.k8s.io): no trend, and a bar against itself would say nothing.
            rows = [[_seconds(p.timestamp), format_value(p.value, metric.unit)] for p in metric.points]
            blocks.append(f"{head}  ok{source}\n" + _indent(table(["time", "value"], rows)))
            continue
        summary = (
            f"min {format_value(min(values), metric.unit)}  max {format_value(max(values), metric.unit)}  "
            f"last {format_value(values[-1], metric.unit)}"
        )
        rows = [
            [_seconds(p.timestamp), format_value(p.value, metric.unit), bar(p.value, max(values))]
            for p in metric.points
        ]
        blocks.append(
            f"{head}  ok{source}  {sparkline(values)}  {summary}\n" + _indent(table(["time", "value", ""], rows))
        )
    return "\n\n".join(blocks)


def _indent(text: str, prefix: str = "  ") -> str:
    return "\n".join(prefix + line if line else line for line in text.split("\n"))
