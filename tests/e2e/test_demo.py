"""`make demo` as a newcomer runs it: the quickstart up, its report, then down."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_demo(command: str, kubeconfig: Path, workspace: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "KUBECONFIG": str(kubeconfig),
        "MANAGED_SERVICES_DEMO_STACK": f"demo-{workspace}",
        "MANAGED_SERVICES_DEMO_WORKSPACE": workspace,
    }
    return subprocess.run(
        [sys.executable, "-m", "examples.demo", command],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_demo_up_reports_every_service_then_down_removes_them(kubeconfig: Path) -> None:
    workspace = f"demo{uuid.uuid4().hex[:6]}"
    up = run_demo("up", kubeconfig, workspace)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        out = up.stdout
        assert "Stack outputs (secrets masked):" in out
        assert "orders_db_uri       [secret]" in out
        for slug in ("postgres-16", "valkey-8", "minio"):
            assert f": {slug} (" in out
        assert out.count("status: running, 1/1 ready, available=True, converged=True") == 3
        assert "recent logs:" in out and "metrics:" in out
        # Secrets stay masked in everything the demo prints.
        assert "postgresql://app:********@" in out
    finally:
        down = run_demo("down", kubeconfig, workspace)
    assert down.returncode == 0, down.stdout + down.stderr
    assert "stack destroyed" in down.stdout
