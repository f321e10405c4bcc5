"""The `managed-services` CLI end to end: a subprocess per command, against a live cluster.

One workspace per module run (`cli<6 random letters>`); every service made here is deleted
at the end. The module's `service` fixture is a postgres-16 made once with `create`.
"""

from __future__ import annotations

import json
import random
import re
import signal
import string
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

MASK = "********"
PROJECT = "shop"
COMMAND_TIMEOUT = 300
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z \S+-\d+ .*$")


class CLI:
    """Runs `python -m managed_services.cli --kubeconfig ... <args>` and keeps what it printed."""

    def __init__(self, kubeconfig: Path, workspace: str) -> None:
        self.kubeconfig = kubeconfig
        self.workspace = workspace

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "managed_services.cli", "--kubeconfig", str(self.kubeconfig), *args]

    def __call__(self, *args: str, timeout: float = COMMAND_TIMEOUT) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(*args), capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=timeout
        )

    def json(self, *args: str, code: int = 0) -> dict[str, Any]:
        """Run in JSON mode; check the exit code and that stdout is exactly one envelope."""
        done = self("--output", "json", *args)
        assert done.returncode == code, f"{args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
        doc: dict[str, Any] = json.loads(done.stdout)
        assert set(doc) == {"status", "message", "data"}
        assert doc["status"] == ("ok" if code == 0 else "error")
        if code:
            assert_one_line_error(done)
        return doc

    def ids(self) -> list[str]:
        return [s["id"] for s in self.json("list", "--workspace", self.workspace, "--project", PROJECT)["data"]]


def assert_one_line_error(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode != 0
    assert done.stderr.startswith("error: "), done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert "Traceback" not in done.stderr


@pytest.fixture(scope="module")
def cli(kubeconfig: Path) -> Iterator[CLI]:
    workspace = "cli" + "".join(random.choices(string.ascii_lowercase, k=6))
    runner = CLI(kubeconfig, workspace)
    yield runner
    for service_id in runner.ids():
        runner("delete", service_id, "--yes")
    assert runner.ids() == []


@pytest.fixture(scope="module")
def service(cli: CLI) -> dict[str, Any]:
    doc = cli.json(
        "create",
        "--workspace", cli.workspace,
        "--project", PROJECT,
        "--name", "orders",
        "--slug", "postgres-16",
        "--env", "POSTGRES_DB=shop",
        "--tag", "team:payments",
        "--volume-size", "2Gi",
        "--timeout", "240",
    )  # fmt: skip
    data: dict[str, Any] = doc["data"]
    return data


def test_create_returns_the_service_with_a_masked_password(service: dict[str, Any], cli: CLI) -> None:
    assert re.fullmatch(r"orders-[a-z0-9]{5}", service["id"])
    assert service["slug"] == "postgres-16"
    assert service["workspace_id"] == cli.workspace and service["project_id"] == PROJECT
    assert service["volume_size"] == "2Gi" and service["tags"] == ["team:payments"]
    assert service["env"] == {"POSTGRES_DB": "shop"}
    assert service["connection"]["password"] == MASK
    assert MASK in service["connection"]["uri"]


def test_list_shows_the_service(service: dict[str, Any], cli: CLI) -> None:
    assert cli.ids() == [service["id"]]
    text = cli("list", "-w", cli.workspace, "-p", PROJECT)
    assert text.returncode == 0
    header, row = text.stdout.splitlines()
    assert header.split()[:3] == ["ID", "NAME", "OFFERING"]
    assert row.split()[:3] == [service["id"], "orders", "postgres-16"]


def test_get_masks_secrets_unless_asked(service: dict[str, Any], cli: CLI) -> None:
    got = cli.json("get", service["id"])["data"]
    assert got["id"] == service["id"] and got["connection"]["password"] == MASK
    # Global options also work after the sub-command.
    shown = cli("get", service["id"], "--show-secrets", "--output", "json")
    password = json.loads(shown.stdout)["data"]["connection"]["password"]
    assert password and password != MASK
    text = cli("get", service["id"]).stdout
    assert re.search(r"^PASSWORD\s+\*{8}$", text, re.MULTILINE)
    assert password not in text


def test_update_env_then_get_shows_it(service: dict[str, Any], cli: CLI) -> None:
    before = cli.json("get", service["id"], "--show-secrets")["data"]["connection"]["password"]
    updated = cli.json("update", service["id"], "--env", "TZ=Europe/Paris", "--timeout", "240")["data"]
    assert updated["env"] == {"POSTGRES_DB": "shop", "TZ": "Europe/Paris"}
    got = cli.json("get", service["id"], "--show-secrets")["data"]
    assert got["env"] == {"POSTGRES_DB": "shop", "TZ": "Europe/Paris"}
    assert got["connection"]["password"] == before  # editing env keeps the generated secret

    cli.json("update", service["id"], "--unset-env", "TZ", "--tag", "team:orders", "--timeout", "240")
    got = cli.json("get", service["id"])["data"]
    assert got["env"] == {"POSTGRES_DB": "shop"} and got["tags"] == ["team:orders"]


def test_update_refuses_what_cannot_change(service: dict[str, Any], cli: CLI) -> None:
    smaller = cli.json("update", service["id"], "--volume-size", "1Gi", code=2)
    assert "volume_size" in smaller["message"] and "shrink" in smaller["message"]
    immutable = cli.json("update", service["id"], "--env", "POSTGRES_DB=other", code=4)
    assert "POSTGRES_DB" in immutable["message"]


def _logs(cli: CLI, service_id: str, *args: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = cli.json("logs", service_id, *args)["data"]
    return data


def test_logs(service: dict[str, Any], cli: CLI) -> None:
    service_id = service["id"]
    deadline = time.monotonic() + 60
    while not (lines := _logs(cli, service_id, "--since", "300")):
        assert time.monotonic() < deadline, "no log lines within 60s"
        time.sleep(2)
    assert {"timestamp", "instance", "line"} <= set(lines[0])
    assert all(line["instance"].startswith(service_id) for line in lines)

    assert 1 <= len(_logs(cli, service_id, "--since", "300", "--limit", "3")) <= 3

    filtered = _logs(cli, service_id, "--since", "3600", "--filter", "LOG:")
    assert filtered and all("LOG:" in line["line"] for line in filtered)

    end = datetime.now(UTC)
    start = end - timedelta(minutes=10)
    ranged = _logs(cli, service_id, "--start", start.isoformat(), "--end", end.isoformat())
    assert ranged
    assert all(start <= datetime.fromisoformat(line["timestamp"]) <= end for line in ranged)

    text = cli("logs", service_id, "--since", "300", "--limit", "5")
    assert text.returncode == 0 and text.stdout
    assert all(LOG_LINE.match(line) for line in text.stdout.splitlines()), text.stdout

    backwards = cli("logs", service_id, "--start", end.isoformat(), "--end", start.isoformat())
    assert_one_line_error(backwards)
    assert backwards.returncode == 2 and "end" in backwards.stderr and "before" in backwards.stderr


@pytest.mark.timeout(180)
def test_logs_follow_until_ctrl_c(service: dict[str, Any], cli: CLI) -> None:
    follow = subprocess.Popen(
        cli.argv("logs", service["id"], "--since", "5", "--follow"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    assert follow.stdout is not None
    # Wait for output rather than a fixed time: a busy machine may take seconds to start the CLI.
    first = follow.stdout.readline()
    time.sleep(3)
    follow.send_signal(signal.SIGINT)
    out, err = follow.communicate(timeout=30)
    assert follow.returncode == 0, err
    lines = (first + out).splitlines()
    assert lines and all(LOG_LINE.match(line) for line in lines), out
    assert len(lines) == len(set(lines)), "a line was printed twice"


def test_metrics_has_an_entry_per_name(service: dict[str, Any], cli: CLI) -> None:
    doc = cli.json("metrics", service["id"], "--names", "cpu_usage,memory_usage,no_such_metric")
    by_name = {m["name"]: m for m in doc["data"]}
    assert list(by_name) == ["cpu_usage", "memory_usage", "no_such_metric"]
    # The testbed's metrics-server may need ~40s for a first sample: ok or error are both fine.
    assert all(by_name[n]["status"] in ("ok", "error") for n in ("cpu_usage", "memory_usage"))
    assert by_name["no_such_metric"]["status"] == "error" and by_name["no_such_metric"]["error"]
    text = cli("metrics", service["id"], "--names", "cpu_usage,no_such_metric")
    assert text.returncode == 0
    assert "no_such_metric  error: unknown metric" in text.stdout and "cpu_usage" in text.stdout


def test_restart_then_status_wait(service: dict[str, Any], cli: CLI) -> None:
    restarted = cli.json("restart", service["id"])
    assert restarted["data"]["total"] == 1
    done = cli("status", service["id"], "--wait", "--timeout", "240", "-o", "json")
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout)["data"]
    assert status["converged"] is True and status["phase"] == "running" and status["ready"] == 1
    assert "/4]" in done.stderr  # the progress lines


def test_scale_to_0_then_back_to_1(service: dict[str, Any], cli: CLI) -> None:
    paused = cli.json("scale", service["id"], "--instances", "0", "--wait", "--timeout", "240")["data"]
    assert paused["total"] == 0
    status = cli.json("status", service["id"])["data"]
    assert (status["total"], status["phase"]) == (0, "paused")
    assert re.search(r"^READY\s+0/0$", cli("status", service["id"]).stdout, re.MULTILINE)

    resumed = cli.json("scale", service["id"], "--instances", "1", "--wait", "--timeout", "240")["data"]
    assert (resumed["total"], resumed["ready"]) == (1, 1)
    assert re.search(r"^READY\s+1/1$", cli("status", service["id"]).stdout, re.MULTILINE)


def test_create_no_wait_status_wait_then_delete(cli: CLI) -> None:
    created = cli.json(
        "create", "-w", cli.workspace, "-p", PROJECT, "--name", "cache", "--slug", "valkey-8", "--no-wait"
    )["data"]
    service_id = created["id"]

    waited = cli("status", service_id, "--wait", "--timeout", "240")
    assert waited.returncode == 0, waited.stderr
    assert re.search(r"^\[\s*[\d.]+s\] \[\d/4\] ", waited.stderr, re.MULTILINE), waited.stderr
    assert re.search(r"^CONVERGED\s+yes$", waited.stdout, re.MULTILINE)

    refused = cli("delete", service_id)  # stdin is not a terminal and no --yes
    assert_one_line_error(refused)
    assert refused.returncode == 2 and "--yes" in refused.stderr and "permanently lost" in refused.stderr
    assert service_id in cli.ids()

    deleted = cli.json("delete", service_id, "--yes")
    assert deleted["data"]["id"] == service_id
    gone = cli("get", service_id)
    assert gone.returncode == 3
    assert_one_line_error(gone)
    assert service_id not in cli.ids()


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["--slug", "postgres-99"], 2, "postgres-99"),
        (["--slug", "postgres-16", "--volume-size", "2GB"], 2, "volume_size"),
        (["--slug", "postgres-16", "--env", "NOEQUALS"], 2, "--env"),
        (["--slug", "valkey-8", "--instances", "99"], 2, "instances"),
    ],
)
def test_bad_create_input_creates_nothing(
    service: dict[str, Any], cli: CLI, args: list[str], code: int, needle: str
) -> None:
    before = cli.ids()
    done = cli("create", "-w", cli.workspace, "-p", PROJECT, "--name", "bad", *args)
    assert done.returncode == code, done.stderr
    assert_one_line_error(done)
    assert needle in done.stderr
    assert cli.ids() == before


@pytest.mark.parametrize(
    "args",
    [
        ["get", "nosuch-zzzzz"],
        ["status", "nosuch-zzzzz"],
        ["logs", "nosuch-zzzzz"],
        ["metrics", "nosuch-zzzzz"],
        ["update", "nosuch-zzzzz", "--name", "x"],
        ["restart", "nosuch-zzzzz"],
        ["scale", "nosuch-zzzzz", "--instances", "1"],
        ["delete", "nosuch-zzzzz", "--yes"],
    ],
)
def test_unknown_id_is_exit_3(cli: CLI, args: list[str]) -> None:
    done = cli(*args)
    assert done.returncode == 3
    assert_one_line_error(done)
    assert "nosuch-zzzzz" in done.stderr
    doc = cli.json(*args, code=3)
    assert doc["data"]["error"] == "NotFound"
