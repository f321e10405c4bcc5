"""The environment the Pulumi CLI runs in on the testbed: offline, file backend, isolated home."""

from __future__ import annotations

import os
import sys

from . import paths, tools

# Test stacks only: the passphrase guards nothing but throwaway state under the cache.
TEST_PASSPHRASE = "managed-services-testbed"


def pulumi_root() -> str:
    """The directory whose bin/ holds the built `pulumi` (what the Automation API's PulumiCommand wants)."""
    return str(tools.ensure_built().parent)


def pulumi_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """Variables to run `pulumi` with: built CLI and plugins first on PATH, nothing downloaded."""
    bin_dir = tools.ensure_built()
    env = dict(base if base is not None else {})
    path = env.get("PATH", os.environ.get("PATH", ""))
    backend = paths.pulumi_backend_dir()
    backend.mkdir(parents=True, exist_ok=True)
    paths.pulumi_home().mkdir(parents=True, exist_ok=True)
    env.update(
        {
            "PATH": f"{bin_dir}{os.pathsep}{path}",
            "PULUMI_HOME": str(paths.pulumi_home()),
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
            "PULUMI_BACKEND_URL": f"file://{backend}",
            "PULUMI_CONFIG_PASSPHRASE": TEST_PASSPHRASE,
            # The dynamic-provider shim runs `$PULUMI_PYTHON_CMD -m pulumi.dynamic`: use the
            # interpreter that has pulumi and our packages installed.
            "PULUMI_PYTHON_CMD": env.get("PULUMI_PYTHON_CMD", sys.executable),
        }
    )
    return env
