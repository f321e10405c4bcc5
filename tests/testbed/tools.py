"""The Go-built tools of the testbed: what each is, how it is built, and where it is cached.

Each tool family is its own small Go module under `tools/` (so their dependency versions
never collide). A tool is cached under `<cache>/tools/<name>-<key>/` where the key hashes
its go.mod, go.sum, build recipe and the Go version: a second `build` rebuilds nothing,
and a bumped pin rebuilds only that tool. `<cache>/<combined key>/bin` holds links to
every binary, so one directory goes on PATH.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import paths

KUBERNETES_VERSION = "v1.36.3"
PULUMI_VERSION = "v3.259.0"

_K8S_VERSION_PACKAGES = ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version")


def _kubernetes_ldflags() -> str:
    major, minor = KUBERNETES_VERSION.lstrip("v").split(".")[:2]
    flags = ["-s", "-w"]
    for pkg in _K8S_VERSION_PACKAGES:
        flags += [
            f"-X {pkg}.gitVersion={KUBERNETES_VERSION}",
            f"-X {pkg}.gitMajor={major}",
            f"-X {pkg}.gitMinor={minor}",
            f"-X {pkg}.gitTreeState=clean",
        ]
    return " ".join(flags)


@dataclass(frozen=True)
class Tool:
    """One Go module of ours and the commands built from it."""

    name: str
    # package path -> output binary name
    targets: dict[str, str]
    ldflags: str = "-s -w"
    tags: str = ""
    env: dict[str, str] = field(default_factory=dict)
    # files copied from a dependency's module directory: (module, path in it, binary name)
    copies: tuple[tuple[str, str, str], ...] = ()

    @property
    def module_dir(self) -> Path:
        return paths.TOOLS_DIR / self.name

    def key(self, go_version: str) -> str:
        digest = hashlib.sha256()
        for name in ("go.mod", "go.sum"):
            digest.update((self.module_dir / name).read_bytes())
        digest.update(repr((self.targets, self.ldflags, self.tags, self.env, self.copies)).encode())
        digest.update(go_version.encode())
        return digest.hexdigest()[:12]

    def binaries(self) -> list[str]:
        return list(self.targets.values()) + [c[2] for c in self.copies]


TOOLS: tuple[Tool, ...] = (
    Tool(
        name="etcd",
        targets={"go.etcd.io/etcd/server/v3": "etcd", "go.etcd.io/etcd/etcdctl/v3": "etcdctl"},
        env={"CGO_ENABLED": "0"},
    ),
    Tool(
        name="kubernetes",
        targets={
            "k8s.io/kubernetes/cmd/kube-apiserver": "kube-apiserver",
            "k8s.io/kubernetes/cmd/kube-controller-manager": "kube-controller-manager",
            "k8s.io/kubernetes/cmd/kube-scheduler": "kube-scheduler",
            "k8s.io/kubernetes/cmd/kubectl": "kubectl",
        },
        ldflags=_kubernetes_ldflags(),
        tags="selinux,notest,grpcnotrace",
        env={"CGO_ENABLED": "0"},
    ),
    Tool(
        name="kwok",
        targets={"sigs.k8s.io/kwok/cmd/kwok": "kwok", "sigs.k8s.io/kwok/cmd/kwokctl": "kwokctl"},
        ldflags=f"-s -w -X sigs.k8s.io/kwok/pkg/consts.KubeVersion={KUBERNETES_VERSION.lstrip('v')}",
        env={"CGO_ENABLED": "0"},
    ),
    Tool(
        name="metrics-server",
        targets={"sigs.k8s.io/metrics-server/cmd/metrics-server": "metrics-server"},
        env={"CGO_ENABLED": "0"},
    ),
    Tool(
        name="pulumi",
        targets={"github.com/pulumi/pulumi/pkg/v3/cmd/pulumi": "pulumi"},
        ldflags=f"-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version={PULUMI_VERSION}",
        env={"CGO_ENABLED": "0"},
        copies=(
            # The engine starts dynamic providers through this shim (python3 -m pulumi.dynamic).
            (
                "github.com/pulumi/pulumi/sdk/v3",
                "python/dist/pulumi-resource-pulumi-python",
                "pulumi-resource-pulumi-python",
            ),
            (
                "github.com/pulumi/pulumi/sdk/v3",
                "python/cmd/pulumi-language-python-exec",
                "pulumi-language-python-exec",
            ),
        ),
    ),
)


class BuildError(RuntimeError):
    """A tool failed to build; the message names the tool and the failing command."""


def go_env() -> dict[str, str]:
    env = dict(os.environ)
    # The machine's Go must build everything: no toolchain download.
    env["GOTOOLCHAIN"] = "local"
    return env


def go_version() -> str:
    out = subprocess.run(["go", "env", "GOVERSION"], capture_output=True, text=True, env=go_env())
    if out.returncode != 0:
        raise BuildError("cannot run `go env GOVERSION`: is Go installed and on PATH?")
    return out.stdout.strip()


def tool_dir(tool: Tool, gover: str) -> Path:
    return paths.cache_root() / "tools" / f"{tool.name}-{tool.key(gover)}"


def bin_dir(gover: str | None = None) -> Path:
    gover = gover or go_version()
    combined = hashlib.sha256("".join(tool.key(gover) for tool in TOOLS).encode()).hexdigest()[:12]
    return paths.cache_root() / combined / "bin"


def _is_built(directory: Path) -> bool:
    return (directory / ".complete").exists()


def _run(tool: Tool, cmd: list[str], cwd: Path, env: dict[str, str]) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-30:])
        raise BuildError(f"building {tool.name} failed: `{' '.join(cmd)}` (in {cwd})\n{tail}")
    return proc.stdout


def build_tool(tool: Tool, gover: str) -> Path:
    target = tool_dir(tool, gover)
    if _is_built(target):
        return target
    env = go_env() | tool.env
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for package, binary in tool.targets.items():
        cmd = ["go", "build", "-trimpath", "-ldflags", tool.ldflags, "-o", str(staging / binary)]
        if tool.tags:
            cmd += ["-tags", tool.tags]
        _run(tool, [*cmd, package], tool.module_dir, env)
    for module, relpath, binary in tool.copies:
        module_root = _run(tool, ["go", "list", "-m", "-f", "{{.Dir}}", module], tool.module_dir, env)
        dest = staging / binary
        # Module cache files are read-only and not executable.
        shutil.copyfile(Path(module_root.strip()) / relpath, dest)
        dest.chmod(dest.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH | stat.S_IWUSR)
    (staging / ".complete").write_text(gover + "\n")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target


def build_all(log: Callable[[str], None] = print) -> Path:
    """Build every missing tool; return the bin directory that links them all."""
    gover = go_version()
    missing = [tool for tool in TOOLS if not _is_built(tool_dir(tool, gover))]
    for index, tool in enumerate(missing, start=1):
        log(f"[{index}/{len(missing)}] building {tool.name} ({', '.join(tool.binaries())}) with {gover} ...")
        started = time.monotonic()
        build_tool(tool, gover)
        log(f"[{index}/{len(missing)}] built {tool.name} in {_duration(time.monotonic() - started)}")
    if not missing:
        log("all testbed tools are cached; nothing to build")
    out = bin_dir(gover)
    out.mkdir(parents=True, exist_ok=True)
    for tool in TOOLS:
        for binary in tool.binaries():
            link = out / binary
            source = tool_dir(tool, gover) / binary
            if link.is_symlink() or link.exists():
                if link.resolve() == source.resolve():
                    continue
                link.unlink()
            link.symlink_to(source)
    return out


def ensure_built() -> Path:
    """The bin directory, building first only if something is missing (quietly otherwise)."""
    gover = go_version()
    if all(_is_built(tool_dir(tool, gover)) for tool in TOOLS) and bin_dir(gover).is_dir():
        return bin_dir(gover)
    return build_all(lambda line: print(line, file=sys.stderr, flush=True))


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{seconds:.1f}s"
