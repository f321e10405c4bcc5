"""Acceptance of the testbed's Pulumi CLI: the pinned version, and a Python program with a
dynamic resource going up and down offline on a file backend (through the Automation API,
whose inline-program host stands in for the Python language plugin; see the README)."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi import automation as auto
from pulumi.dynamic import CreateResult, Resource, ResourceProvider

from tests.testbed import paths
from tests.testbed.pulumi_env import pulumi_root
from tests.testbed.tools import PULUMI_VERSION

pytestmark = pytest.mark.e2e


class FileProvider(ResourceProvider):
    """Writes a file: small enough to pickle, real enough to check it ran."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        Path(props["path"]).write_text(props["content"])
        return CreateResult(id_=props["path"], outs=props)

    def delete(self, id: str, props: dict[str, Any]) -> None:
        Path(id).unlink(missing_ok=True)


class File(Resource):
    def __init__(self, name: str, path: str, content: str) -> None:
        super().__init__(FileProvider(), name, {"path": path, "content": content})


def test_pulumi_version_is_pinned(pulumi_env: dict[str, str], testbed_bin: Path) -> None:
    out = subprocess.run(
        [str(testbed_bin / "pulumi"), "version"], env=pulumi_env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == PULUMI_VERSION


def test_dynamic_resource_up_and_destroy_offline(pulumi_env: dict[str, str], tmp_path: Path) -> None:
    target = tmp_path / "made-by-pulumi.txt"

    def program() -> None:
        made = File("greeting", str(target), "hello from a dynamic provider")
        pulumi.export("path", made.id)

    env = {**pulumi_env, "PYTHONPATH": str(paths.REPO_ROOT)}
    stack = auto.create_or_select_stack(
        stack_name=f"tb-{uuid.uuid4().hex[:8]}",
        project_name="testbed-smoke",
        program=program,
        opts=auto.LocalWorkspaceOptions(
            env_vars=env,
            pulumi_command=auto.PulumiCommand(root=pulumi_root(), skip_version_check=False),
            project_settings=auto.ProjectSettings(name="testbed-smoke", runtime="python"),
        ),
    )
    try:
        result = stack.up(on_output=print)
        assert result.summary.result == "succeeded"
        assert result.outputs["path"].value == str(target)
        assert target.read_text() == "hello from a dynamic provider"
        state = json.loads(json.dumps(stack.export_stack().deployment))
        assert any(r["type"].startswith("pulumi-python:dynamic") for r in state["resources"])
        stack.destroy(on_output=print)
        assert not target.exists()
    finally:
        stack.workspace.remove_stack(stack.name, force=True)
