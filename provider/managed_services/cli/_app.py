"""The argument parser: every sub-command, every option, every help text.

Global options (`--kubeconfig`, `--output`, ...) are accepted before or after the sub-command:
they are declared on the top-level parser and again on each sub-command with SUPPRESS
defaults, so a value given in either place survives, and `GLOBAL_DEFAULTS` fills the rest.
Parse errors raise `UsageError` (one line, exit code 2) instead of printing argparse's usage.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from importlib import metadata
from typing import Any, NoReturn

from ..engine import DEFAULT_TIMEOUT
from ._errors import EPILOG_EXIT_CODES, UsageError

PROG = "managed-services"
PROMETHEUS_ENV = "MANAGED_SERVICES_PROMETHEUS_URL"
DEFAULT_METRIC_NAMES = ("cpu_usage", "memory_usage")

GLOBAL_DEFAULTS: dict[str, Any] = {
    "kubeconfig": None,
    "context": None,
    "output": "text",
    "show_secrets": False,
    "debug": False,
    "prometheus_url": None,
}


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are exceptions, so `run` reports them like any other."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message, command=self.prog)


# -- argument types ---------------------------------------------------------------------------


def env_pair(text: str) -> tuple[str, str]:
    """`KEY=VALUE`; the value may itself contain `=` and may be empty."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, got {text!r}")
    return value


def metric_names(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected comma-separated metric names, got {text!r}")
    return names


# -- the parser ---------------------------------------------------------------------------------

_DESCRIPTION = """\
Manage curated PostgreSQL, Valkey and MinIO services on your own Kubernetes cluster.

Every command talks to the cluster directly (the cluster is the only store). Global options
may be given before or after the sub-command."""

_EPILOG = f"""\
examples:
  {PROG} offerings
  {PROG} create -w acme -p shop --name orders-db --slug postgres-16 --volume-size 10Gi
  {PROG} list -w acme -p shop
  {PROG} --output json get orders-db-7f3k2
  {PROG} logs orders-db-7f3k2 --since 600 --filter ERROR
  {PROG} delete orders-db-7f3k2 --yes

output:
  text (default) prints aligned tables. --output json prints exactly one JSON document on
  stdout for every command, success or failure:
    {{"status": "ok" | "error", "message": "...", "data": ...}}
  Errors also print one line, "error: ...", on stderr (a traceback only with --debug).
  Progress while waiting always goes to stderr.

{EPILOG_EXIT_CODES}"""


def _add_globals(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    def default(name: str) -> Any:
        return argparse.SUPPRESS if suppress else GLOBAL_DEFAULTS[name]

    group = parser.add_argument_group("global options")
    group.add_argument(
        "--kubeconfig",
        metavar="PATH",
        default=default("kubeconfig"),
        help="kubeconfig file to use (default: $KUBECONFIG, then ~/.kube/config, then in-cluster)",
    )
    group.add_argument(
        "--context",
        metavar="NAME",
        default=default("context"),
        help="kubeconfig context to use (default: current)",
    )
    group.add_argument(
        "-o",
        "--output",
        choices=("text", "json"),
        default=default("output"),
        help="text: aligned tables (default); json: one {status, message, data} envelope on stdout",
    )
    group.add_argument(
        "--show-secrets",
        action="store_true",
        default=default("show_secrets"),
        help="show passwords, secret env values and full connection URIs instead of ********",
    )
    group.add_argument(
        "--debug",
        action="store_true",
        default=default("debug"),
        help="print a full traceback when a command fails",
    )
    group.add_argument(
        "--prometheus-url",
        metavar="URL",
        default=default("prometheus_url"),
        help=f"Prometheus to read metric history from (default: ${PROMETHEUS_ENV}; "
        "without it, metrics are the current sample from metrics.k8s.io)",
    )


def _add_wait(parser: argparse.ArgumentParser, *, default_wait: bool, what: str) -> None:
    if default_wait:
        parser.add_argument(
            "--no-wait",
            action="store_true",
            help=f"return as soon as the change is applied, without waiting for {what}",
        )
    else:
        parser.add_argument(
            "--wait",
            action="store_true",
            help=f"wait for {what}, showing progress on stderr",
        )
    parser.add_argument(
        "--timeout",
        type=positive_seconds,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"how long to wait before giving up with exit code 6 (default: {DEFAULT_TIMEOUT:.0f})",
    )


def _add_id(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("id", metavar="ID", help="the managed service's id, such as orders-db-7f3k2")


def _add_project(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-w",
        "--workspace",
        required=True,
        metavar="W",
        help="workspace id (a lowercase DNS label, at most 20)",
    )
    parser.add_argument(
        "-p", "--project", required=True, metavar="P", help="project id (a lowercase DNS label, at most 20)"
    )


def _add_resources(parser: argparse.ArgumentParser, *, update: bool) -> None:
    keep = "; with only one of --cpu/--memory the other keeps its current value" if update else ""
    parser.add_argument("--cpu", metavar="CPU", help=f"CPU per instance, in cores (0.5, 2) or millicores (500m){keep}")
    parser.add_argument(
        "--memory", metavar="MEM", help=f"memory per instance (request and limit), such as 512Mi or 2Gi{keep}"
    )


def _add_window(parser: argparse.ArgumentParser, *, since_help: str) -> None:
    parser.add_argument("--since", type=int, metavar="SECONDS", help=since_help)
    parser.add_argument(
        "--start", metavar="ISO", help="start of the window, ISO 8601 (2026-11-29T07:00:00Z; naive means UTC)"
    )
    parser.add_argument("--end", metavar="ISO", help="end of the window, ISO 8601 (default: now)")


def build_parser() -> Parser:
    parser = Parser(
        prog=PROG,
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    _add_globals(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, summary: str, description: str = "") -> Parser:
        sub: Parser = commands.add_parser(
            name,
            help=summary,
            description=f"{summary}.\n\n{description}".rstrip() if description else f"{summary}.",
            epilog=EPILOG_EXIT_CODES,
            formatter_class=argparse.RawDescriptionHelpFormatter,
            allow_abbrev=False,
        )
        _add_globals(sub, suppress=True)
        return sub

    command(
        "offerings",
        "List the catalog of offerings",
        "Shows each offering's slug (what --slug takes), name, image, client port, default volume\n"
        "size and scaling rule. Needs no cluster.",
    )

    sub = command("list", "List the managed services of a project", "Oldest first.")
    _add_project(sub)

    sub = command("get", "Show one managed service: its settings and how to connect")
    _add_id(sub)

    sub = command(
        "status",
        "Show whether a managed service is ready",
        "phase is one of creating, running, updating, paused, failed, deleting; ready counts the\n"
        "instances passing their readiness probe out of the instances asked for.",
    )
    _add_id(sub)
    _add_wait(sub, default_wait=False, what="every instance to be ready on the latest configuration")

    sub = command(
        "create",
        "Create a managed service",
        "Input is checked completely before anything is written: bad input creates nothing.\n"
        "Secrets the offering needs (passwords) are generated unless given with --env.",
    )
    _add_project(sub)
    sub.add_argument("--name", required=True, metavar="N", help="display name, unique in the project (DNS label)")
    sub.add_argument("--slug", required=True, metavar="S", help="offering to run (see the offerings command)")
    sub.add_argument(
        "--env",
        type=env_pair,
        action="append",
        default=[],
        metavar="K=V",
        help="override an environment variable of the offering (repeatable; the value may contain '=')",
    )
    sub.add_argument(
        "--volume-size",
        metavar="SIZE",
        help="size of each instance's volume, in Mi, Gi or Ti such as 10Gi (default: the offering's)",
    )
    sub.add_argument(
        "--tag",
        action="append",
        dest="tags",
        metavar="T",
        help="a tag to attach (repeatable), such as team:payments",
    )
    _add_resources(sub, update=False)
    sub.add_argument(
        "--instances", type=int, metavar="N", help="number of instances (default: 1; more adds read replicas)"
    )
    _add_wait(sub, default_wait=True, what="every instance to be ready")

    sub = command(
        "update",
        "Change a managed service in place",
        "Only the options given change. --env and --unset-env edit the current overrides (the\n"
        "others are kept); --tag replaces the whole tag list. Fields that cannot change in place\n"
        "(the offering, immutable env keys, a smaller volume) fail with exit code 4 or 2.",
    )
    _add_id(sub)
    sub.add_argument("--name", metavar="N", help="new display name, unique in the project")
    sub.add_argument(
        "--env",
        type=env_pair,
        action="append",
        default=[],
        metavar="K=V",
        help="set an environment override, keeping the others (repeatable; the value may contain '=')",
    )
    sub.add_argument(
        "--unset-env",
        action="append",
        default=[],
        metavar="K",
        help="remove an environment override, back to the offering's default (repeatable)",
    )
    sub.add_argument("--volume-size", metavar="SIZE", help="grow each instance's volume to SIZE (volumes only grow)")
    tags = sub.add_mutually_exclusive_group()
    tags.add_argument(
        "--tag",
        action="append",
        dest="tags",
        metavar="T",
        help="replace the tag list with the tags given (repeatable)",
    )
    tags.add_argument("--clear-tags", action="store_true", help="remove every tag")
    _add_resources(sub, update=True)
    _add_wait(sub, default_wait=True, what="every instance to run the new configuration")

    sub = command(
        "delete",
        "Delete a managed service and its volumes: the data is permanently lost",
        "Asks for confirmation on a terminal (answering no exits 1 and keeps the service).\n"
        "Without a terminal it refuses (exit 2) unless --yes is given.",
    )
    _add_id(sub)
    sub.add_argument("-y", "--yes", action="store_true", help="do not ask: confirm that the data is permanently lost")
    sub.add_argument(
        "--no-wait",
        action="store_true",
        help="return once deletion is requested, without waiting for it to finish",
    )
    sub.add_argument(
        "--timeout",
        type=positive_seconds,
        default=300.0,
        metavar="SECONDS",
        help="how long to wait for the instances and volumes to go (default: 300)",
    )

    sub = command(
        "logs",
        "Print the log lines of every instance, merged by time",
        "Text output is '<timestamp> <instance> <line>'. Give either --since or a --start/--end\n"
        "range. --follow keeps polling every 2 seconds and prints new lines until Ctrl-C (exit 0).",
    )
    _add_id(sub)
    _add_window(sub, since_help="only lines from the last SECONDS seconds (default: all the kubelet has)")
    sub.add_argument("--limit", type=int, metavar="N", help="keep only the newest N lines (1-10000; default: 1000)")
    sub.add_argument("--filter", metavar="TEXT", help="only lines containing TEXT (case-sensitive)")
    sub.add_argument(
        "-f", "--follow", action="store_true", help="keep printing new lines until Ctrl-C (text output only)"
    )

    sub = command(
        "metrics",
        "Show the usage metrics of a managed service",
        "Each metric is fetched on its own: one that fails shows its error beside the others, and\n"
        'the command still exits 0 (in JSON, that metric has status "error"). It exits non-zero\n'
        "only when the call itself fails (unknown service, bad window, cluster unreachable).",
    )
    _add_id(sub)
    sub.add_argument(
        "--names",
        type=metric_names,
        metavar="A,B",
        help=f"comma-separated metrics to show (default: {','.join(DEFAULT_METRIC_NAMES)})",
    )
    _add_window(sub, since_help="the last SECONDS seconds (default: 3600)")
    sub.add_argument(
        "--step",
        type=int,
        default=60,
        metavar="SECONDS",
        help="resolution of a Prometheus range (default: 60)",
    )

    sub = command(
        "restart",
        "Restart every instance, one at a time",
        "Returns at once unless --wait; the service stays available while replicas roll.",
    )
    _add_id(sub)
    _add_wait(sub, default_wait=False, what="every instance to be back and ready")

    sub = command(
        "rotate-credentials",
        "Replace the generated passwords with new random ones",
        "Every generated credential the service's env does not override gets a new random value;\n"
        "instances restart one at a time to use it. Returns at once unless --wait.",
    )
    _add_id(sub)
    _add_wait(sub, default_wait=False, what="every instance to run with the new credentials")

    sub = command(
        "scale",
        "Set the number of instances",
        "0 pauses the service and keeps its volumes; more than 1 adds read replicas where the\noffering supports them.",
    )
    _add_id(sub)
    sub.add_argument("--instances", type=int, required=True, metavar="N", help="the number of instances wanted")
    _add_wait(sub, default_wait=False, what="the instances to be ready")
    return parser


def parse(argv: Sequence[str]) -> argparse.Namespace:
    """Parse a command line (UsageError on any problem), with the global defaults filled in."""
    args = build_parser().parse_args(list(argv))
    for name, value in GLOBAL_DEFAULTS.items():
        if not hasattr(args, name):
            setattr(args, name, value)
    if args.prometheus_url is None:
        args.prometheus_url = os.environ.get(PROMETHEUS_ENV) or None
    return args


def wants_json(argv: Sequence[str]) -> bool:
    """Whether `--output json` was asked for, read without parsing (for reporting parse errors)."""
    tokens = list(argv)
    for i, token in enumerate(tokens):
        if token == "--":
            break
        if token in ("--output=json", "-ojson", "-o=json"):
            return True
        if token in ("--output", "-o") and i + 1 < len(tokens) and tokens[i + 1] == "json":
            return True
    return False


def _version() -> str:
    try:
        return metadata.version("pulumi-managed-services")
    except metadata.PackageNotFoundError:
        return "unknown"
