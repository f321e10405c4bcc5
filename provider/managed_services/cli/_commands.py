"""One function per sub-command: call the engine, shape its result. No engine logic here.

Each command returns an `Outcome`: the JSON `data` (pydantic `model_dump(mode="json")` of
what the engine returned), the `text` to print in text mode, a one-line `message` for the
JSON envelope, and optional `notes` for stderr. Validation, naming, readiness and
masking are the engine's; the CLI only maps flags to arguments.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TextIO

from ..engine import ManagedServices
from ..models import LogLine, ManagedService, MetricSeries, ServiceStatus
from . import _render
from ._errors import Cancelled, UsageError
from ._progress import ProgressDisplay

FOLLOW_INTERVAL = 2.0
"""Seconds between polls of `logs --follow`."""
FOLLOW_SINCE = 10
"""Each `logs --follow` poll reads this many seconds back (overlap is de-duplicated)."""


@dataclass(frozen=True)
class Outcome:
    message: str
    data: Any
    text: str = ""
    notes: list[str] = field(default_factory=list)


@dataclass
class Context:
    """What a command needs besides its arguments: the engine (made on first use) and the streams."""

    args: argparse.Namespace
    make_engine: Callable[[argparse.Namespace], ManagedServices]
    stdin: TextIO
    stdout: TextIO
    stderr: TextIO
    _engine: ManagedServices | None = None

    @property
    def engine(self) -> ManagedServices:
        if self._engine is None:
            self._engine = self.make_engine(self.args)
        return self._engine

    @property
    def show_secrets(self) -> bool:
        return bool(self.args.show_secrets)

    @property
    def json(self) -> bool:
        return bool(self.args.output == "json")

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None

    @contextlib.contextmanager
    def progress(self, enabled: bool = True) -> Iterator[ProgressDisplay | None]:
        """The engine's `progress=` callback on stderr while waiting; None when not waiting."""
        if not enabled:
            yield None
            return
        with ProgressDisplay(self.stderr) as display:
            yield display


Command = Callable[[Context, argparse.Namespace], Outcome]


def _service(svc: ManagedService, message: str, notes: Sequence[str] = ()) -> Outcome:
    return Outcome(message, svc.model_dump(mode="json"), _render.service_text(svc), list(notes))


def _status(service_id: str, status: ServiceStatus, message: str, notes: Sequence[str] = ()) -> Outcome:
    return Outcome(message, status.model_dump(mode="json"), _render.status_text(service_id, status), list(notes))


def _poll_hint(service_id: str) -> str:
    return f"not waiting; follow with: managed-services status {service_id} --wait"


# -- read -----------------------------------------------------------------------------------------


def offerings(ctx: Context, args: argparse.Namespace) -> Outcome:
    views = ctx.engine.offerings()
    return Outcome(
        f"{len(views)} offerings", [v.model_dump(mode="json") for v in views], _render.offerings_table(views)
    )


def list_(ctx: Context, args: argparse.Namespace) -> Outcome:
    services = ctx.engine.list(workspace_id=args.workspace, project_id=args.project, show_secrets=ctx.show_secrets)
    where = f"{args.workspace}/{args.project}"
    text = _render.services_table(services) if services else f"no managed services in {where}"
    return Outcome(f"{len(services)} managed services in {where}", [s.model_dump(mode="json") for s in services], text)


def get(ctx: Context, args: argparse.Namespace) -> Outcome:
    svc = ctx.engine.get(args.id, show_secrets=ctx.show_secrets)
    return _service(svc, f"managed service {svc.id}")


def status(ctx: Context, args: argparse.Namespace) -> Outcome:
    if args.wait:
        with ctx.progress() as progress:
            result = ctx.engine.wait(args.id, args.timeout, progress=progress)
    else:
        result = ctx.engine.status(args.id)
    return _status(args.id, result, f"{args.id} is {result.phase}, {result.ready}/{result.total} ready")


# -- write ----------------------------------------------------------------------------------------


def create(ctx: Context, args: argparse.Namespace) -> Outcome:
    resources = {k: v for k, v in (("cpu", args.cpu), ("memory", args.memory)) if v is not None}
    options: dict[str, Any] = {}
    if args.instances is not None:
        options["instances"] = args.instances
    wait = not args.no_wait
    with ctx.progress(wait) as progress:
        svc = ctx.engine.create(
            workspace_id=args.workspace,
            project_id=args.project,
            name=args.name,
            slug=args.slug,
            env=dict(args.env) or None,
            volume_size=args.volume_size,
            tags=args.tags,
            resources=resources or None,
            wait=wait,
            timeout=args.timeout,
            progress=progress,
            **options,
        )
    if ctx.show_secrets:
        svc = ctx.engine.get(svc.id, show_secrets=True)
    return _service(svc, f"created {svc.id}", [] if wait else [_poll_hint(svc.id)])


def update(ctx: Context, args: argparse.Namespace) -> Outcome:
    changes: dict[str, Any] = {}
    notes: list[str] = []
    current: ManagedService | None = None
    if args.name is not None:
        changes["name"] = args.name
    if args.env or args.unset_env:
        both = sorted({k for k, _ in args.env} & set(args.unset_env))
        if both:
            raise UsageError(f"--env and --unset-env both name {', '.join(both)}", command="managed-services update")
        # The engine replaces the overrides as a whole: edit the current ones (real values).
        current = ctx.engine.get(args.id, show_secrets=True)
        env = dict(current.env)
        env.update(dict(args.env))
        for key in args.unset_env:
            if key in env:
                del env[key]
            else:
                notes.append(f"{key} is not overridden on {args.id}; nothing to unset")
        changes["env"] = env
    if args.volume_size is not None:
        changes["volume_size"] = args.volume_size
    if args.tags is not None or args.clear_tags:
        changes["tags"] = [] if args.clear_tags else args.tags
    if args.cpu is not None or args.memory is not None:
        resources = {k: v for k, v in (("cpu", args.cpu), ("memory", args.memory)) if v is not None}
        if len(resources) == 1:
            # Partial resources would reset the other to the offering's default: keep it as it is.
            live = (current or ctx.engine.get(args.id)).resources
            resources = {k: v for k, v in (("cpu", live.cpu), ("memory", live.memory)) if v is not None} | resources
        changes["resources"] = resources
    if not changes:
        raise UsageError(
            "nothing to change: give at least one of --name, --env, --unset-env, --volume-size, --tag, "
            "--clear-tags, --cpu, --memory",
            command="managed-services update",
        )
    wait = not args.no_wait
    with ctx.progress(wait) as progress:
        svc = ctx.engine.update(args.id, wait=wait, timeout=args.timeout, progress=progress, **changes)
    if ctx.show_secrets:
        svc = ctx.engine.get(svc.id, show_secrets=True)
    if not wait:
        notes.append(_poll_hint(svc.id))
    return _service(svc, f"updated {svc.id}", notes)


def delete(ctx: Context, args: argparse.Namespace) -> Outcome:
    if not args.yes:
        if not ctx.stdin.isatty():
            raise UsageError(
                f"refusing to delete {args.id} without confirmation: its volumes and data would be "
                "permanently lost; stdin is not a terminal, so pass --yes to confirm",
                command="managed-services delete",
            )
        svc = ctx.engine.get(args.id)
        where = f"{svc.workspace_id}/{svc.project_id}"
        ctx.stderr.write(
            f"Delete managed service {svc.id} ({svc.slug} {svc.name!r} in {where})?\n"
            "Its volumes are deleted with it: ALL ITS DATA IS PERMANENTLY LOST. Continue? [y/N] "
        )
        ctx.stderr.flush()
        if ctx.stdin.readline().strip().lower() not in ("y", "yes"):
            raise Cancelled(f"not deleted: {args.id} was kept")
    ctx.engine.delete(args.id, wait=not args.no_wait, timeout=args.timeout)
    message = f"deleted {args.id}" if not args.no_wait else f"deletion of {args.id} requested"
    return Outcome(message, {"id": args.id, "deleted": True, "waited": not args.no_wait}, message)


def restart(ctx: Context, args: argparse.Namespace) -> Outcome:
    result = ctx.engine.restart(args.id)
    notes = []
    if args.wait:
        with ctx.progress() as progress:
            result = ctx.engine.wait(args.id, args.timeout, progress=progress)
    else:
        notes.append(f"instances restart one at a time; follow with: managed-services status {args.id} --wait")
    return _status(args.id, result, f"restarted {args.id}" if args.wait else f"restart of {args.id} requested", notes)


def rotate_credentials(ctx: Context, args: argparse.Namespace) -> Outcome:
    rotated = ctx.engine.rotate_credentials(args.id)
    notes = [f"rotated: {', '.join(rotated)}; see them with: managed-services get {args.id} --show-secrets"]
    if args.wait:
        with ctx.progress() as progress:
            result = ctx.engine.wait(args.id, args.timeout, progress=progress)
    else:
        result = ctx.engine.status(args.id)
        notes.append(f"instances restart one at a time; follow with: managed-services status {args.id} --wait")
    return _status(args.id, result, f"rotated the credentials of {args.id}", notes)


def scale(ctx: Context, args: argparse.Namespace) -> Outcome:
    with ctx.progress(args.wait) as progress:
        result = ctx.engine.scale(args.id, args.instances, wait=args.wait, timeout=args.timeout, progress=progress)
    notes = [] if args.wait else [_poll_hint(args.id)]
    return _status(args.id, result, f"scaled {args.id} to {args.instances} instances", notes)


# -- observe --------------------------------------------------------------------------------------


def logs(ctx: Context, args: argparse.Namespace) -> Outcome:
    if args.follow and ctx.json:
        raise UsageError(
            "--follow streams text lines; it cannot be combined with --output json",
            command="managed-services logs",
        )
    if args.follow and args.end is not None:
        raise UsageError("--follow cannot be combined with --end", command="managed-services logs")
    window: dict[str, Any] = {
        "since": args.since,
        "start": args.start,
        "end": args.end,
        "filter": args.filter,
    }
    if args.limit is not None:
        window["limit"] = args.limit
    if args.follow:
        return _follow(ctx, args, window)
    lines: list[LogLine] = ctx.engine.logs(args.id, **window)
    return Outcome(
        f"{len(lines)} log lines",
        [line.model_dump(mode="json") for line in lines],
        "\n".join(_render.log_line(line) for line in lines),
    )


def _follow(ctx: Context, args: argparse.Namespace, window: dict[str, Any]) -> Outcome:
    """Print the window, then poll and print newer lines until Ctrl-C (which ends with exit 0)."""
    last: datetime | None = None
    seen_at_last: set[tuple[str, str]] = set()
    count = 0

    def emit(lines: Sequence[LogLine]) -> None:
        nonlocal last, seen_at_last, count
        for line in lines:
            key = (line.instance, line.line)
            if last is not None and (line.timestamp < last or (line.timestamp == last and key in seen_at_last)):
                continue
            if line.timestamp != last:
                last, seen_at_last = line.timestamp, set()
            seen_at_last.add(key)
            ctx.stdout.write(_render.log_line(line) + "\n")
            count += 1
        ctx.stdout.flush()

    try:
        emit(ctx.engine.logs(args.id, **window))
        while True:
            time.sleep(FOLLOW_INTERVAL)
            emit(ctx.engine.logs(args.id, since=FOLLOW_SINCE, limit=None, filter=args.filter))
    except KeyboardInterrupt:
        pass
    return Outcome(f"{count} log lines", None)


def metrics(ctx: Context, args: argparse.Namespace) -> Outcome:
    options: dict[str, Any] = {"since": args.since, "start": args.start, "end": args.end, "step": args.step}
    if args.names is not None:
        options["names"] = args.names
    series: list[MetricSeries] = ctx.engine.metrics(args.id, **options)
    failed = [s.name for s in series if s.status == "error"]
    message = f"{len(series)} metrics" + (f"; failed: {', '.join(failed)}" if failed else "")
    return Outcome(message, [s.model_dump(mode="json") for s in series], _render.metrics_text(series))


COMMANDS: dict[str, Command] = {
    "offerings": offerings,
    "list": list_,
    "get": get,
    "status": status,
    "create": create,
    "update": update,
    "delete": delete,
    "logs": logs,
    "metrics": metrics,
    "restart": restart,
    "rotate-credentials": rotate_credentials,
    "scale": scale,
}
