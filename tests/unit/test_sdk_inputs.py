"""The Pulumi resource's check/diff logic, without the engine or a cluster."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi.runtime import rpc

from pulumi_managed_services import ManagedServiceProvider
from pulumi_managed_services._inputs import canonical, failures

BASE: dict[str, Any] = {"workspace_id": "acme", "project_id": "shop", "name": "db", "slug": "postgres-16"}


def test_canonical_fills_defaults_and_canonical_forms() -> None:
    inputs = canonical({**BASE, "volume_size": "2048Mi", "resources": {"cpu": "0.5"}, "instances": 2.0})
    assert inputs["volume_size"] == "2Gi"
    assert inputs["resources"] == {"cpu": "500m", "memory": "512Mi"}  # memory: the offering's default
    assert inputs["instances"] == 2 and isinstance(inputs["instances"], int)
    assert (inputs["env"], inputs["tags"], inputs["timeout"], inputs["restart_trigger"]) == ({}, [], 600, "")
    assert canonical(BASE)["volume_size"] == "8Gi"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"slug": "mysql-8"}, "slug"),
        ({"instances": 9}, "instances"),
        ({"env": {"BAD-NAME": "x"}}, "env"),
        ({"env": {"PGDATA": "/tmp"}}, "env.PGDATA"),
        ({"volume_size": "2GB"}, "volume_size"),
        ({"timeout": -1}, "timeout"),
    ],
)
def test_check_reports_each_bad_field(change: dict[str, Any], field: str) -> None:
    result = ManagedServiceProvider().check({}, {**BASE, **change})
    assert [f.property for f in result.failures] == [field.split(".")[0]]
    assert field in result.failures[0].reason


def test_check_rejects_a_shrink_against_the_previous_inputs() -> None:
    olds = canonical({**BASE, "volume_size": "4Gi"})
    problems = failures(olds, canonical({**BASE, "volume_size": "2Gi"}))
    assert [p.field for p in problems] == ["volume_size"]
    assert "cannot shrink" in problems[0].message


def test_unknown_values_are_not_judged_during_preview() -> None:
    result = ManagedServiceProvider().check({}, {**BASE, "workspace_id": rpc.UNKNOWN, "slug": rpc.UNKNOWN})
    assert result.failures == []


def test_diff_reports_only_what_changed() -> None:
    provider = ManagedServiceProvider()
    olds = canonical(BASE)
    assert provider.diff("id", olds, dict(BASE)).changes is False
    renamed = provider.diff("id", olds, {**BASE, "name": "orders"})
    assert renamed.changes is True and renamed.replaces == []
    moved = provider.diff("id", olds, {**BASE, "slug": "valkey-8"})
    assert moved.replaces == ["slug"] and moved.delete_before_replace is True
