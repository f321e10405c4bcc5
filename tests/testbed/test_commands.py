"""The testbed's command line: what a person sees when nothing runs, and when a build fails."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.testbed import paths, tools

TESTBED = paths.TESTBED_DIR / "testbed"


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(TESTBED), *args], env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def isolated_state(tmp_path: Path) -> dict[str, str]:
    """The real tool cache, but a state directory of this test's own (so no cluster is found)."""
    return {**os.environ, "MANAGED_SERVICES_TESTBED_STATE": str(tmp_path / "state")}


def test_down_when_nothing_runs_is_a_no_op(isolated_state: dict[str, str]) -> None:
    result = run(["down"], isolated_state)
    assert result.returncode == 0, result.stderr
    assert "nothing to do" in result.stderr


def test_status_when_down_says_so_and_fails(isolated_state: dict[str, str]) -> None:
    result = run(["status"], isolated_state)
    assert result.returncode == 3
    assert result.stdout.startswith("down")


def test_env_prints_an_offline_pulumi_environment(isolated_state: dict[str, str]) -> None:
    result = run(["env"], isolated_state)
    assert result.returncode == 0, result.stderr
    exports = dict(line.removeprefix("export ").split("=", 1) for line in result.stdout.splitlines())
    assert exports["PULUMI_SKIP_UPDATE_CHECK"] == "true"
    assert exports["PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION"] == "true"
    assert exports["PULUMI_BACKEND_URL"].startswith("file://")
    assert exports["PULUMI_CONFIG_PASSPHRASE"]
    first_on_path = exports["PATH"].strip("'").split(os.pathsep)[0]
    assert (Path(first_on_path) / "pulumi").exists()
    assert exports["PULUMI_HOME"].strip("'").startswith(str(paths.cache_root()))


def test_a_failed_build_names_the_tool_and_the_command(tmp_path: Path) -> None:
    broken = tools.Tool(name="etcd", targets={"example.invalid/does/not/exist": "nothing"})
    with pytest.raises(tools.BuildError) as raised:
        tools._run(broken, ["go", "build", "example.invalid/does/not/exist"], tools.TOOLS[0].module_dir, tools.go_env())
    message = str(raised.value)
    assert message.startswith("building etcd failed: `go build example.invalid/does/not/exist`")


def test_tool_cache_is_keyed_by_pins() -> None:
    gover = tools.go_version()
    keys = {tool.name: tool.key(gover) for tool in tools.TOOLS}
    assert len(set(keys.values())) == len(keys)
    assert all(tools.tool_dir(tool, gover).parent == paths.cache_root() / "tools" for tool in tools.TOOLS)
    assert tools.bin_dir(gover).name == "bin"
