"""Where the testbed keeps what it builds and what it runs, all outside the repository."""

from __future__ import annotations

import os
from pathlib import Path

TESTBED_DIR = Path(__file__).resolve().parent
TOOLS_DIR = TESTBED_DIR / "tools"
REPO_ROOT = TESTBED_DIR.parent.parent


def cache_root() -> Path:
    """Root of everything the testbed builds; survives `down` and repository clones."""
    override = os.environ.get("MANAGED_SERVICES_CACHE")
    if override:
        return Path(override) / "testbed"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "managed-services" / "testbed"


def state_dir() -> Path:
    """State of the running cluster (kwok workdir, kubeconfig, log files); removed by `down`."""
    override = os.environ.get("MANAGED_SERVICES_TESTBED_STATE")
    if override:
        return Path(override)
    return cache_root() / "run"


def kubeconfig_path() -> Path:
    return state_dir() / "kubeconfig.yaml"


def pulumi_home() -> Path:
    return cache_root() / "pulumi-home"


def pulumi_backend_dir() -> Path:
    return cache_root() / "pulumi-state"
