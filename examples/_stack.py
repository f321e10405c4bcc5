"""Run an example Pulumi project with the real CLI through the Automation API.

The project's `__main__.py` runs as an inline program: the Automation API hosts the Python
program itself, so no `pulumi-language-python` plugin is needed (the testbed cannot build
it: its Go module is not served by the module proxy). Everything else, the CLI, the engine,
the state backend and the dynamic provider process, is the real thing.
"""

from __future__ import annotations

import os
import runpy
from collections.abc import Callable
from pathlib import Path

import yaml
from pulumi import automation as auto

from tests.testbed import paths
from tests.testbed.pulumi_env import pulumi_env, pulumi_root


def program_of(project_dir: Path) -> Callable[[], None]:
    main = project_dir / "__main__.py"

    def program() -> None:
        runpy.run_path(str(main), run_name="__main__")

    return program


def open_stack(
    project_dir: Path,
    stack_name: str,
    *,
    kubeconfig: Path | None,
    config: dict[str, str] | None = None,
    program: Callable[[], None] | None = None,
) -> auto.Stack:
    """Create or select `stack_name` of the project in `project_dir` on the testbed's file backend."""
    settings = yaml.safe_load((project_dir / "Pulumi.yaml").read_text())
    project_name = settings["name"]
    work_dir = paths.cache_root() / "workspaces" / project_name
    work_dir.mkdir(parents=True, exist_ok=True)
    env = pulumi_env(dict(os.environ))
    env.pop("PULUMI_RUNTIME_VIRTUALENV", None)
    stack = auto.create_or_select_stack(
        stack_name=stack_name,
        project_name=project_name,
        program=program or program_of(project_dir),
        opts=auto.LocalWorkspaceOptions(
            work_dir=str(work_dir),
            env_vars=env,
            pulumi_command=auto.PulumiCommand(root=pulumi_root()),
            project_settings=auto.ProjectSettings(
                name=project_name, runtime="python", description=settings.get("description")
            ),
        ),
    )
    if kubeconfig is not None:
        stack.set_config("managed-services:kubeconfig", auto.ConfigValue(str(kubeconfig)))
    for key, value in (config or {}).items():
        stack.set_config(key, auto.ConfigValue(value))
    return stack
