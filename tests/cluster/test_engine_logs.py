"""Logs: every instance's lines merged by time, selected by `since` or a start/end range,
filtered by a substring, the newest `limit` kept; bad selections are refused before any read."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from managed_services import InvalidInput, LogLine, ManagedService, ManagedServices

PROJECT = "logs"
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")


@pytest.fixture(scope="module")
def db(ms: ManagedServices, workspace: str) -> ManagedService:
    return ms.create(
        workspace_id=workspace, project_id=PROJECT, name="db", slug="postgres-16", volume_size="1Gi", instances=2
    )


def instances(service: ManagedService) -> set[str]:
    return {f"{service.id}-{i}" for i in range(service.instances)}


def assert_well_formed(lines: list[LogLine], service: ManagedService) -> None:
    assert lines, "no lines"
    for line in lines:
        assert line.timestamp.tzinfo is not None
        assert line.instance in instances(service)
        assert line.line.strip(), "empty text"
        assert not STAMP.match(line.line), f"the timestamp was left in the text: {line.line!r}"
        assert not line.line.startswith(("stdout ", "stderr ")), f"CRI framing left in the text: {line.line!r}"
    keys = [(line.timestamp, line.instance) for line in lines]
    assert keys == sorted(keys), "lines are not merged by time"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_since_returns_recent_lines_of_every_instance(db: ManagedService, ms: ManagedServices) -> None:
    asked = datetime.now(UTC)
    lines = ms.logs(db.id, since=30)
    assert_well_formed(lines, db)
    assert {line.instance for line in lines} == instances(db)
    # kubelet-style since is whole seconds, measured on the server: allow a little slack.
    assert min(line.timestamp for line in lines) >= asked - timedelta(seconds=32)
    assert max(line.timestamp for line in lines) <= datetime.now(UTC) + timedelta(seconds=2)
    assert len(ms.logs(db.id, since=120)) > len(lines), "since really selects"


def test_start_and_end_select_a_range(db: ManagedService, ms: ManagedServices) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    start, end = now - timedelta(seconds=120), now - timedelta(seconds=60)
    lines = ms.logs(db.id, start=iso(start), end=iso(end), limit=None)
    assert_well_formed(lines, db)
    assert all(start <= line.timestamp <= end for line in lines), [
        line.timestamp for line in lines if not start <= line.timestamp <= end
    ]
    # The generated log has a line a second: the range is covered, not just touched.
    for instance in instances(db):
        mine = [line.timestamp for line in lines if line.instance == instance]
        assert len(mine) >= 50, f"{instance}: {len(mine)} lines in a 60s range"
        assert min(mine) - start < timedelta(seconds=5) and end - max(mine) < timedelta(seconds=5)


def test_limit_keeps_the_newest_lines(db: ManagedService, ms: ManagedServices) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    start, end = iso(now - timedelta(seconds=90)), iso(now - timedelta(seconds=30))
    everything = ms.logs(db.id, start=start, end=end, limit=None)
    newest = ms.logs(db.id, start=start, end=end, limit=7)
    assert len(everything) > 7
    assert newest == everything[-7:]


def test_filter_keeps_only_matching_lines(db: ManagedService, ms: ManagedServices) -> None:
    everything = ms.logs(db.id, since=120)
    errors = ms.logs(db.id, since=120, filter="ERROR")
    assert_well_formed(errors, db)
    assert all("ERROR" in line.line for line in errors)
    assert len(errors) < len(everything)
    assert {line.instance for line in errors} == instances(db)


def test_since_with_start_is_invalid(db: ManagedService, ms: ManagedServices) -> None:
    ms.kube.stats.reset()
    with pytest.raises(InvalidInput) as raised:
        ms.logs(db.id, since=60, start=iso(datetime.now(UTC) - timedelta(minutes=5)))
    assert raised.value.field == "since"
    assert (ms.kube.stats.reads, ms.kube.stats.writes) == (0, 0), "refused before reading"


def test_end_before_start_is_invalid_and_names_end(db: ManagedService, ms: ManagedServices) -> None:
    now = datetime.now(UTC)
    ms.kube.stats.reset()
    with pytest.raises(InvalidInput) as raised:
        ms.logs(db.id, start=iso(now - timedelta(minutes=1)), end=iso(now - timedelta(minutes=2)))
    assert raised.value.field == "end"
    assert "end:" in str(raised.value)
    assert (ms.kube.stats.reads, ms.kube.stats.writes) == (0, 0), "refused before reading"


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"start": "yesterday"}, "start"),
        ({"since": 0}, "since"),
        ({"since": 60, "limit": 0}, "limit"),
    ],
)
def test_malformed_selection_names_the_field(
    db: ManagedService, ms: ManagedServices, arguments: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        ms.logs(db.id, **arguments)  # type: ignore[arg-type]
    assert raised.value.field == field
