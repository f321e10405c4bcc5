"""The CLI without a cluster: parsing, help texts, rendering, the JSON envelope, exit codes.

A `FakeEngine` stands in for `ManagedServices`: it records the calls the CLI makes, so the
tests check that flags become the right engine arguments (and nothing more).
"""

from __future__ import annotations

import argparse
import io
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from managed_services import (
    Conflict,
    Forbidden,
    Immutable,
    InvalidInput,
    KubernetesUnavailable,
    LogLine,
    ManagedService,
    ManagedServices,
    MetricPoint,
    MetricSeries,
    NotFound,
    ServiceStatus,
    Timeout,
)
from managed_services.catalog import load_catalog
from managed_services.cli import _app, _commands, _render, run
from managed_services.cli._errors import Cancelled, ExitCode, UsageError, exit_code
from managed_services.models import ConnectionView, ResourcesView

CATALOG = load_catalog(Path(__file__).resolve().parents[2] / "offerings")
T0 = datetime(2026, 11, 29, 7, 0, 0, tzinfo=UTC)


def service(**changes: Any) -> ManagedService:
    fields: dict[str, Any] = {
        "id": "orders-abcde",
        "workspace_id": "acme",
        "project_id": "shop",
        "namespace": "ms-acme-shop",
        "name": "orders",
        "slug": "postgres-16",
        "image": "docker.io/library/postgres:16.10-bookworm",
        "env": {"POSTGRES_DB": "shop", "POSTGRES_PASSWORD": "********"},
        "volume_size": "8Gi",
        "resources": ResourcesView(cpu="250m", memory="512Mi"),
        "tags": ["team:a"],
        "instances": 1,
        "connection": ConnectionView(
            host="orders-abcde.ms-acme-shop.svc.cluster.local",
            port=5432,
            username="app",
            password="********",
            uri="postgresql://app:********@orders-abcde.ms-acme-shop.svc.cluster.local:5432/shop",
        ),
        "created_at": T0,
    }
    return ManagedService(**{**fields, **changes})


RUNNING = ServiceStatus(total=1, ready=1, available=True, converged=True, phase="running", message="converged")


class FakeEngine:
    """Records every call; `fail` makes the named method raise."""

    def __init__(self, fail: dict[str, BaseException] | None = None) -> None:
        self.catalog = CATALOG
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        self.fail = fail or {}
        self.secret_env = {"POSTGRES_DB": "shop", "POSTGRES_PASSWORD": "real-secret-1"}
        self.log_batches: list[list[LogLine]] = []

    def _record(self, name: str, /, *args: Any, **kwargs: Any) -> None:
        self.calls.append((name, args, kwargs))
        if name in self.fail:
            raise self.fail[name]

    def called(self, name: str) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
        return [(a, k) for n, a, k in self.calls if n == name]

    def close(self) -> None:
        pass

    def offerings(self) -> list[Any]:
        # The real catalog view: it needs nothing but the catalog.
        return ManagedServices.offerings(self)  # type: ignore[arg-type]

    def get(self, service_id: str, *, show_secrets: bool = False) -> ManagedService:
        self._record("get", service_id, show_secrets=show_secrets)
        return service(env=dict(self.secret_env)) if show_secrets else service()

    def list(self, **kwargs: Any) -> list[ManagedService]:
        self._record("list", **kwargs)
        return [service(), service(id="cache-fghij", name="cache", slug="valkey-8", tags=[])]

    def create(self, **kwargs: Any) -> ManagedService:
        self._record("create", **kwargs)
        if kwargs.get("progress"):
            kwargs["progress"]("[1/4] waiting for the StatefulSet controller to see the change")
        return service()

    def update(self, service_id: str, **kwargs: Any) -> ManagedService:
        self._record("update", service_id, **kwargs)
        return service()

    def delete(self, service_id: str, **kwargs: Any) -> None:
        self._record("delete", service_id, **kwargs)

    def status(self, service_id: str) -> ServiceStatus:
        self._record("status", service_id)
        return RUNNING

    def wait(self, service_id: str, timeout: float = 600.0, progress: Any = None) -> ServiceStatus:
        self._record("wait", service_id, timeout=timeout, progress=progress)
        if progress:
            progress("[4/4] instances 0/1 ready")
        return RUNNING

    def restart(self, service_id: str) -> ServiceStatus:
        self._record("restart", service_id)
        return RUNNING

    def scale(self, service_id: str, instances: int, **kwargs: Any) -> ServiceStatus:
        self._record("scale", service_id, instances, **kwargs)
        return RUNNING.model_copy(update={"total": instances, "ready": instances})

    def logs(self, service_id: str, **kwargs: Any) -> list[LogLine]:
        self._record("logs", service_id, **kwargs)
        if self.log_batches:
            return self.log_batches.pop(0)
        return [LogLine(timestamp=T0, instance="orders-abcde-0", line="LOG:  ready to accept connections")]

    def metrics(self, service_id: str, **kwargs: Any) -> list[MetricSeries]:
        self._record("metrics", service_id, **kwargs)
        return [
            MetricSeries(
                name="cpu_usage",
                status="ok",
                unit="cores",
                source="metrics.k8s.io",
                points=[MetricPoint(timestamp=T0, value=0.004)],
            ),
            MetricSeries(name="bogus", status="error", error="unknown metric; known: cpu_usage, memory_usage"),
        ]


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


class Result:
    def __init__(self, code: int, stdout: str, stderr: str) -> None:
        self.code, self.stdout, self.stderr = code, stdout, stderr

    def json(self) -> Any:
        return json.loads(self.stdout)


def cli(*argv: str, engine: FakeEngine | None = None, stdin: io.StringIO | None = None) -> Result:
    out, err = io.StringIO(), io.StringIO()
    fake = engine if engine is not None else FakeEngine()

    def make(args: argparse.Namespace) -> Any:
        return fake

    code = run(list(argv), make_engine=make, stdin=stdin or io.StringIO(), stdout=out, stderr=err)
    return Result(code, out.getvalue(), err.getvalue())


def words(text: str) -> list[str]:
    return text.split()


def no_engine(args: argparse.Namespace) -> Any:
    raise AssertionError("the engine must not be used")


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = _app.build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


# -- parsing ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["offerings"], {"command": "offerings"}),
        (["list", "-w", "acme", "--project", "shop"], {"workspace": "acme", "project": "shop"}),
        (["get", "orders-abcde"], {"command": "get", "id": "orders-abcde"}),
        (["status", "x", "--wait", "--timeout", "30"], {"wait": True, "timeout": 30.0}),
        (["status", "x"], {"wait": False, "timeout": 600.0}),
        (
            words(
                "create -w acme -p shop --name db --slug postgres-16 --env A=1 --env B=x=y --volume-size 2Gi "
                "--tag t1 --tag t2 --cpu 500m --memory 1Gi --instances 2 --no-wait --timeout 5"
            ),
            {
                "name": "db",
                "slug": "postgres-16",
                "env": [("A", "1"), ("B", "x=y")],
                "volume_size": "2Gi",
                "tags": ["t1", "t2"],
                "cpu": "500m",
                "memory": "1Gi",
                "instances": 2,
                "no_wait": True,
                "timeout": 5.0,
            },
        ),
        (
            ["create", "-w", "a", "-p", "b", "--name", "n", "--slug", "s"],
            {"env": [], "tags": None, "cpu": None, "instances": None, "no_wait": False, "volume_size": None},
        ),
        (
            ["update", "x", "--name", "n", "--env", "K=V", "--unset-env", "U", "--volume-size", "9Gi", "--tag", "t"],
            {"name": "n", "env": [("K", "V")], "unset_env": ["U"], "volume_size": "9Gi", "tags": ["t"]},
        ),
        (["update", "x", "--clear-tags", "--memory", "1Gi"], {"clear_tags": True, "tags": None, "memory": "1Gi"}),
        (["delete", "x", "--yes"], {"yes": True, "no_wait": False, "timeout": 300.0}),
        (["delete", "x", "-y", "--no-wait"], {"yes": True, "no_wait": True}),
        (
            ["logs", "x", "--since", "300", "--limit", "10", "--filter", "ERROR", "--follow"],
            {"since": 300, "limit": 10, "filter": "ERROR", "follow": True, "start": None},
        ),
        (
            ["logs", "x", "--start", "2026-11-29T07:00:00Z", "--end", "2026-11-29T08:00:00Z"],
            {"start": "2026-11-29T07:00:00Z", "end": "2026-11-29T08:00:00Z", "since": None},
        ),
        (
            ["metrics", "x", "--names", "cpu_usage, memory_usage", "--since", "60"],
            {"names": ["cpu_usage", "memory_usage"], "since": 60},
        ),
        (["metrics", "x"], {"names": None, "step": 60}),
        (["restart", "x", "--wait"], {"command": "restart", "wait": True}),
        (["scale", "x", "--instances", "0"], {"instances": 0, "wait": False}),
    ],
)
def test_every_subcommand_parses(argv: list[str], expected: dict[str, Any]) -> None:
    args = _app.parse(argv)
    assert args.command == argv[0]
    for key, value in expected.items():
        assert getattr(args, key) == value, key
    assert args.output == "text" and args.kubeconfig is None and args.show_secrets is False


@pytest.mark.parametrize("place", ["before", "after"])
def test_global_options_before_or_after_the_subcommand(place: str) -> None:
    options = ["--kubeconfig", "/k.yaml", "--context", "c", "-o", "json", "--show-secrets", "--debug"]
    argv = [*options, "get", "x"] if place == "before" else ["get", "x", *options]
    args = _app.parse(argv)
    assert (args.kubeconfig, args.context, args.output, args.show_secrets, args.debug) == (
        "/k.yaml",
        "c",
        "json",
        True,
        True,
    )


def test_env_values_may_contain_equals_or_be_empty() -> None:
    assert _app.env_pair("URL=postgres://a?b=c") == ("URL", "postgres://a?b=c")
    assert _app.env_pair("EMPTY=") == ("EMPTY", "")


@pytest.mark.parametrize("bad", ["NOEQUALS", "=value"])
def test_env_without_a_key_is_a_usage_error_naming_the_flag(bad: str) -> None:
    result = cli("create", "-w", "a", "-p", "b", "--name", "n", "--slug", "s", "--env", bad)
    assert result.code == ExitCode.USAGE
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: argument --env: expected KEY=VALUE")
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["frobnicate"], "invalid choice"),
        ([], "COMMAND"),
        (["create", "-w", "a", "-p", "b"], "--name"),
        (["status", "x", "--timeout", "0"], "--timeout"),
        (["scale", "x", "--instances", "two"], "--instances"),
        (["--output", "yaml", "offerings"], "--output"),
    ],
)
def test_usage_errors_exit_2_with_one_line(argv: list[str], needle: str) -> None:
    result = cli(*argv)
    assert result.code == ExitCode.USAGE
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert needle in result.stderr
    assert "Traceback" not in result.stderr


def test_usage_error_in_json_mode_prints_the_envelope() -> None:
    result = cli("--output", "json", "scale", "x")
    assert result.code == ExitCode.USAGE
    doc = result.json()
    assert doc["status"] == "error" and "--instances" in doc["message"]
    assert doc["data"]["exit_code"] == 2


# -- help --------------------------------------------------------------------------------------


def test_top_level_help_lists_commands_globals_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--help"], make_engine=no_engine) == 0
    text = capsys.readouterr().out
    for word in [*subcommands(), "--kubeconfig", "--context", "--output", "--show-secrets", "--debug"]:
        assert word in text
    for code in ("0", "1", "2", "3", "4", "5", "6"):
        assert f"\n    {code}  " in text
    assert '"status"' in text


@pytest.mark.parametrize("name", sorted(subcommands()))
def test_each_subcommand_help_describes_every_option(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    parser = subcommands()[name]
    assert run([name, "--help"], make_engine=no_engine) == 0
    text = capsys.readouterr().out
    for action in parser._actions:
        assert action.help and action.help != argparse.SUPPRESS, f"{name}: {action.dest} has no help"
        for option in action.option_strings:
            assert option in text, f"{name} --help does not mention {option}"
    assert "exit codes:" in text


def test_metrics_help_says_a_failed_metric_still_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    run(["metrics", "--help"], make_engine=no_engine)
    text = " ".join(capsys.readouterr().out.split())
    assert "still exits 0" in text


# -- JSON envelope and text output ---------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["offerings"],
        ["list", "-w", "acme", "-p", "shop"],
        ["get", "orders-abcde"],
        ["status", "orders-abcde", "--wait"],
        ["create", "-w", "acme", "-p", "shop", "--name", "orders", "--slug", "postgres-16"],
        ["update", "orders-abcde", "--name", "orders2"],
        ["delete", "orders-abcde", "--yes"],
        ["logs", "orders-abcde"],
        ["metrics", "orders-abcde"],
        ["restart", "orders-abcde"],
        ["scale", "orders-abcde", "--instances", "2"],
    ],
)
def test_json_mode_prints_exactly_one_envelope(argv: list[str]) -> None:
    result = cli("--output", "json", *argv)
    assert result.code == 0, result.stderr
    doc = result.json()  # one document: json.loads refuses trailing data
    assert set(doc) == {"status", "message", "data"}
    assert doc["status"] == "ok" and isinstance(doc["message"], str)


def test_json_data_is_the_model_dump() -> None:
    doc = cli("-o", "json", "get", "orders-abcde").json()
    assert doc["data"] == service().model_dump(mode="json")
    assert doc["data"]["connection"]["password"] == "********"


def test_show_secrets_is_passed_through() -> None:
    engine = FakeEngine()
    cli("get", "x", engine=engine)
    cli("get", "x", "--show-secrets", engine=engine)
    cli("list", "-w", "a", "-p", "b", "--show-secrets", engine=engine)
    assert [k["show_secrets"] for _, k in engine.called("get")] == [False, True]
    assert engine.called("list")[0][1]["show_secrets"] is True


def test_offerings_needs_no_cluster() -> None:
    out, err = io.StringIO(), io.StringIO()
    code = run(["--kubeconfig", "/nonexistent/kubeconfig", "-o", "json", "offerings"], stdout=out, stderr=err)
    assert code == 0, err.getvalue()
    data = json.loads(out.getvalue())["data"]
    assert {o["slug"] for o in data} == set(CATALOG.slugs())
    assert {"slug", "display_name", "image", "port", "default_volume_size", "max_instances", "replicas"} <= set(data[0])


def test_offerings_text_is_an_aligned_table() -> None:
    lines = cli("offerings").stdout.splitlines()
    assert lines[0].split() == ["SLUG", "NAME", "IMAGE", "PORT", "VOLUME", "SCALING"]
    column = lines[0].index("IMAGE")
    assert all(line[column - 2 : column] == "  " for line in lines[1:])
    assert any("postgres-16" in line and "5432" in line and "read replicas" in line for line in lines)


def test_list_text_table() -> None:
    text = cli("list", "-w", "acme", "-p", "shop").stdout
    header, first, second = text.splitlines()
    assert header.split()[:3] == ["ID", "NAME", "OFFERING"]
    assert first.startswith("orders-abcde") and second.startswith("cache-fghij")
    assert header.index("NAME") == first.index("orders ") == second.index("cache ")


def test_logs_text_is_timestamp_instance_line() -> None:
    assert cli("logs", "x").stdout == "2026-11-29T07:00:00.000000Z orders-abcde-0 LOG:  ready to accept connections\n"


def test_logs_passes_the_window_through_and_lets_the_engine_check_it() -> None:
    engine = FakeEngine()
    cli("logs", "x", "--since", "300", "--limit", "5", "--filter", "ERROR", engine=engine)
    cli("logs", "x", "--start", "2026-11-29T07:00:00Z", "--end", "2026-11-29T08:00:00Z", engine=engine)
    (_, first), (_, second) = engine.called("logs")
    assert first == {"since": 300, "start": None, "end": None, "filter": "ERROR", "limit": 5}
    assert second == {"since": None, "start": "2026-11-29T07:00:00Z", "end": "2026-11-29T08:00:00Z", "filter": None}


def test_logs_end_before_start_is_the_engines_invalid_input() -> None:
    engine = FakeEngine(fail={"logs": InvalidInput("end", "2026-11-29T07:00:00+00:00 is before start ...")})
    result = cli("logs", "x", "--start", "2026-11-29T08:00:00Z", "--end", "2026-11-29T07:00:00Z", engine=engine)
    assert result.code == ExitCode.USAGE
    assert result.stderr == "error: end: 2026-11-29T07:00:00+00:00 is before start ...\n"


def test_logs_follow_prints_only_newer_lines_and_exits_0_on_ctrl_c(monkeypatch: pytest.MonkeyPatch) -> None:
    def line(seconds: int, text: str, instance: str = "x-0") -> LogLine:
        return LogLine(timestamp=T0 + timedelta(seconds=seconds), instance=instance, line=text)

    engine = FakeEngine()
    engine.log_batches = [
        [line(0, "a"), line(1, "b")],
        [line(1, "b"), line(1, "b2", "x-1"), line(2, "c")],  # overlaps the first read
        [line(2, "c"), line(3, "d")],
    ]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) > 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(_commands.time, "sleep", sleep)
    result = cli("logs", "x", "--since", "60", "--follow", engine=engine)
    assert result.code == 0, result.stderr
    assert [ln.split(" ", 2)[2] for ln in result.stdout.splitlines()] == ["a", "b", "b2", "c", "d"]
    assert sleeps == [_commands.FOLLOW_INTERVAL] * 3
    polls = [k for _, k in engine.called("logs")][1:]
    assert all(k["since"] == _commands.FOLLOW_SINCE for k in polls)


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["-o", "json", "logs", "x", "-f"], "--output json"),
        (["logs", "x", "-f", "--end", "2026-11-29T07:00:00Z"], "--end"),
    ],
)
def test_logs_follow_refuses_json_and_end(argv: list[str], needle: str) -> None:
    result = cli(*argv)
    assert result.code == ExitCode.USAGE and needle in result.stderr


def test_metrics_show_a_failed_metric_beside_the_others_and_exit_0() -> None:
    result = cli("metrics", "x", "--names", "cpu_usage,bogus")
    assert result.code == 0
    assert "cpu_usage (cores)  ok" in result.stdout and "4.0m" in result.stdout
    assert "bogus  error: unknown metric" in result.stdout
    doc = cli("-o", "json", "metrics", "x").json()
    assert [m["status"] for m in doc["data"]] == ["ok", "error"]
    assert "failed: bogus" in doc["message"]


# -- commands map flags to engine arguments ---------------------------------------------------------


def test_create_passes_flags_and_shows_progress_on_stderr() -> None:
    engine = FakeEngine()
    argv = "create -w acme -p shop --name db --slug postgres-16 --env A=1=2 --tag t --memory 1Gi --timeout 30"
    result = cli(*words(argv), engine=engine)
    assert result.code == 0
    ((_, kwargs),) = engine.called("create")
    assert kwargs["env"] == {"A": "1=2"} and kwargs["tags"] == ["t"] and kwargs["resources"] == {"memory": "1Gi"}
    assert kwargs["wait"] is True and kwargs["timeout"] == 30.0 and callable(kwargs["progress"])
    assert "instances" not in kwargs  # the engine's default applies
    assert "[1/4] waiting for the StatefulSet controller" in result.stderr
    assert "[1/4]" not in result.stdout


def test_create_no_wait_sends_no_progress() -> None:
    engine = FakeEngine()
    result = cli("create", "-w", "a", "-p", "b", "--name", "n", "--slug", "s", "--no-wait", engine=engine)
    ((_, kwargs),) = engine.called("create")
    assert kwargs["wait"] is False and kwargs["progress"] is None
    assert "status orders-abcde --wait" in result.stderr


def test_update_edits_the_current_env_overrides() -> None:
    engine = FakeEngine()
    result = cli("update", "x", "--env", "TZ=UTC", "--env", "POSTGRES_DB=orders", "--unset-env", "NOPE", engine=engine)
    assert result.code == 0
    assert engine.called("get")[0][1] == {"show_secrets": True}  # real values, not ********
    ((_, kwargs),) = engine.called("update")
    assert kwargs["env"] == {"POSTGRES_DB": "orders", "POSTGRES_PASSWORD": "real-secret-1", "TZ": "UTC"}
    assert "NOPE is not overridden" in result.stderr

    engine = FakeEngine()
    cli("update", "x", "--unset-env", "POSTGRES_DB", engine=engine)
    assert engine.called("update")[0][1]["env"] == {"POSTGRES_PASSWORD": "real-secret-1"}


def test_update_without_env_flags_leaves_env_alone() -> None:
    engine = FakeEngine()
    cli("update", "x", "--name", "renamed", "--tag", "a", "--tag", "b", "--volume-size", "9Gi", engine=engine)
    ((args, kwargs),) = engine.called("update")
    assert args == ("x",)
    assert {k: kwargs[k] for k in ("name", "tags", "volume_size")} == {
        "name": "renamed",
        "tags": ["a", "b"],
        "volume_size": "9Gi",
    }
    assert "env" not in kwargs and "resources" not in kwargs
    assert engine.called("get") == []


def test_update_clear_tags_and_resource_merge() -> None:
    engine = FakeEngine()
    cli("update", "x", "--clear-tags", "--memory", "2Gi", engine=engine)
    kwargs = engine.called("update")[0][1]
    assert kwargs["tags"] == []
    assert kwargs["resources"] == {"cpu": "250m", "memory": "2Gi"}  # cpu kept from the live service

    engine = FakeEngine()
    cli("update", "x", "--cpu", "1", "--memory", "2Gi", engine=engine)
    assert engine.called("update")[0][1]["resources"] == {"cpu": "1", "memory": "2Gi"}
    assert engine.called("get") == []


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["update", "x"], "nothing to change"),
        (["update", "x", "--no-wait"], "nothing to change"),
        (["update", "x", "--env", "A=1", "--unset-env", "A"], "both name A"),
        (["update", "x", "--tag", "a", "--clear-tags"], "not allowed with"),
    ],
)
def test_update_usage_errors_call_nothing(argv: list[str], needle: str) -> None:
    engine = FakeEngine()
    result = cli(*argv, engine=engine)
    assert result.code == ExitCode.USAGE and needle in result.stderr
    assert engine.called("update") == []


def test_delete_without_a_tty_refuses_without_yes() -> None:
    out, err = io.StringIO(), io.StringIO()
    code = run(["delete", "x"], make_engine=no_engine, stdin=io.StringIO("y\n"), stdout=out, stderr=err)
    assert code == ExitCode.USAGE
    assert err.getvalue().count("\n") == 1
    assert "--yes" in err.getvalue() and "permanently lost" in err.getvalue()


@pytest.mark.parametrize(("answer", "deleted"), [("y\n", True), ("yes\n", True), ("n\n", False), ("", False)])
def test_delete_asks_on_a_tty(answer: str, deleted: bool) -> None:
    engine = FakeEngine()
    result = cli("delete", "orders-abcde", engine=engine, stdin=Tty(answer))
    assert "permanently lost" in result.stderr.lower() and "[y/N]" in result.stderr
    assert bool(engine.called("delete")) is deleted
    assert result.code == (0 if deleted else ExitCode.ERROR)


def test_delete_yes_skips_the_question() -> None:
    engine = FakeEngine()
    result = cli("delete", "x", "--yes", engine=engine, stdin=Tty(""))
    assert result.code == 0 and result.stderr == ""
    assert engine.called("delete") == [(("x",), {"wait": True, "timeout": 300.0})]


def test_status_wait_uses_the_engines_wait_with_progress() -> None:
    engine = FakeEngine()
    result = cli("status", "x", "--wait", "--timeout", "12", engine=engine)
    ((args, kwargs),) = engine.called("wait")
    assert args == ("x",) and kwargs["timeout"] == 12.0 and callable(kwargs["progress"])
    assert "[4/4] instances 0/1 ready" in result.stderr
    assert "READY      1/1" in result.stdout


def test_scale_and_restart() -> None:
    engine = FakeEngine()
    result = cli("scale", "x", "--instances", "0", engine=engine)
    assert engine.called("scale")[0] == (("x", 0), {"wait": False, "timeout": 600.0, "progress": None})
    assert "READY      0/0" in result.stdout
    cli("restart", "x", "--wait", engine=engine)
    assert engine.called("restart") and engine.called("wait")


# -- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (InvalidInput("volume_size", "must be a whole number"), 2),
        (UsageError("bad flag"), 2),
        (NotFound("managed service 'x' not found"), 3),
        (Conflict("name: taken"), 4),
        (Immutable("slug", "cannot change"), 4),
        (KubernetesUnavailable("cannot reach"), 5),
        (Forbidden("denied"), 5),
        (Timeout("not ready after 5s", "instances 0/1 ready"), 6),
        (Cancelled("not deleted"), 1),
        (RuntimeError("boom"), 1),
        (KeyboardInterrupt(), 130),
    ],
)
def test_errors_map_to_exit_codes(error: BaseException, code: int) -> None:
    assert exit_code(error) == code
    result = cli("get", "x", engine=FakeEngine(fail={"get": error}))
    assert result.code == code
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_json_error_envelope_on_stdout_and_one_line_on_stderr() -> None:
    error = InvalidInput("slug", "unknown offering 'nope'\nknown: minio, postgres-16")
    result = cli("-o", "json", "get", "x", engine=FakeEngine(fail={"get": error}))
    assert result.code == 2
    doc = result.json()
    assert doc == {
        "status": "error",
        "message": "slug: unknown offering 'nope' known: minio, postgres-16",
        "data": {
            "error": "InvalidInput",
            "exit_code": 2,
            "retryable": False,
            "fields": [{"field": "slug", "message": "unknown offering 'nope'\nknown: minio, postgres-16"}],
        },
    }
    assert result.stderr == "error: slug: unknown offering 'nope' known: minio, postgres-16\n"


def test_timeout_envelope_carries_the_last_state() -> None:
    result = cli("-o", "json", "status", "x", "--wait", engine=FakeEngine(fail={"wait": Timeout("late", "0/1 ready")}))
    assert result.code == 6 and result.json()["data"]["last_state"] == "0/1 ready"


def test_traceback_only_with_debug() -> None:
    engine = FakeEngine(fail={"get": RuntimeError("boom")})
    plain = cli("get", "x", engine=engine)
    assert plain.stderr == "error: unexpected RuntimeError: boom\n"
    debug = cli("get", "x", "--debug", engine=engine)
    assert "Traceback" in debug.stderr and debug.stderr.endswith("error: unexpected RuntimeError: boom\n")


def test_unusable_kubeconfig_is_exit_5() -> None:
    out, err = io.StringIO(), io.StringIO()
    code = run(["--kubeconfig", "/nonexistent/kubeconfig", "get", "x"], stdout=out, stderr=err)
    assert code == ExitCode.UNAVAILABLE
    assert err.getvalue().startswith("error: no usable Kubernetes configuration")
    assert err.getvalue().count("\n") == 1


# -- rendering -----------------------------------------------------------------------------------


def test_table_aligns_columns_without_trailing_blanks() -> None:
    assert _render.table(["a", "bb"], [["xxx", "y"], ["z", ""]]) == "A    BB\nxxx  y\nz"


def test_pairs_keep_multiline_values_in_their_column() -> None:
    assert _render.pairs([("env", "A=1\nB=2"), ("id", "x")]) == "ENV  A=1\n     B=2\nID   x"


def test_service_text_masks_what_the_engine_masked() -> None:
    text = _render.service_text(service())
    assert "PASSWORD" in text and "********" in text
    assert "POSTGRES_PASSWORD=********" in text


@pytest.mark.parametrize(
    ("values", "expected"),
    [([], ""), ([1.0, 1.0], "▅▅"), ([0.0, 0.0], "▁▁"), ([0.0, 0.5, 1.0], "▁▅█")],
)
def test_sparkline(values: list[float], expected: str) -> None:
    assert _render.sparkline(values) == expected


def test_bar_and_values() -> None:
    assert _render.bar(1.0, 1.0, width=4) == "████"
    assert _render.bar(0.5, 1.0, width=4) == "██"
    assert _render.bar(0.0, 1.0) == ""
    assert _render.format_value(0.0042, "cores") == "4.2m"
    assert _render.format_value(2.5, "cores") == "2.500"
    assert _render.format_value(512 * 1024 * 1024, "bytes") == "512.0 MiB"
    assert _render.format_value(12, "bytes") == "12 B"


def test_metrics_text_lists_points_with_a_trend() -> None:
    points = [MetricPoint(timestamp=T0 + timedelta(minutes=i), value=v) for i, v in enumerate([1e6, 2e6, 4e6])]
    text = _render.metrics_text(
        [
            MetricSeries(name="memory_usage", status="ok", unit="bytes", points=points, source="prometheus"),
            MetricSeries(name="cpu_usage", status="error", unit="cores", error="no sample yet"),
        ]
    )
    head, *rest = text.split("\n")
    assert head.startswith("memory_usage (bytes)  ok  via prometheus  ▁▃█")
    assert "max 3.8 MiB" in head
    assert rest[0].split() == ["TIME", "VALUE"]
    assert rest[-1] == "cpu_usage (cores)  error: no sample yet"


def test_the_package_exports_only_main_and_run() -> None:
    import managed_services.cli as cli_module

    assert cli_module.__all__ == ["main", "run"]
    main: Callable[..., int] = cli_module.main
    assert main(["--version"]) == 0
