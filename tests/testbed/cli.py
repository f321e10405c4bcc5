"""Command line of the testbed (`tests/testbed/testbed <command>`)."""

from __future__ import annotations

import argparse
import shlex
import sys

from . import cluster, pulumi_env, tools


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="testbed",
        description="A local Kubernetes control plane (kwok) and the Pulumi CLI, built from Go modules.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("build", help="build every missing tool into the cache (nothing is rebuilt)")
    sub.add_parser("up", help="start the cluster (or reuse the running one) and print `export KUBECONFIG=...`")
    sub.add_parser("down", help="stop everything `up` started and remove its state")
    sub.add_parser("status", help="say whether the cluster is up and where its kubeconfig is")
    sub.add_parser("env", help="print the environment for the Pulumi CLI, as shell exports")
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            print(f"tools are in {tools.build_all()}")
        elif args.command == "up":
            kubeconfig = cluster.up(log=_err)
            print(f"export KUBECONFIG={shlex.quote(str(kubeconfig))}")
        elif args.command == "down":
            cluster.down(log=_err)
        elif args.command == "status":
            state = cluster.status()
            print(state.describe())
            return 0 if state.running else 3
        elif args.command == "env":
            for key, value in pulumi_env.pulumi_env().items():
                print(f"export {key}={shlex.quote(value)}")
    except (tools.BuildError, cluster.TestbedError) as exc:
        print(f"testbed: {exc}", file=sys.stderr)
        return 1
    return 0


def _err(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
