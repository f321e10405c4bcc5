"""Parse, run one command, print its outcome or its error, return the exit code."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import TextIO

from ..engine import ManagedServices
from . import _app, _render
from ._commands import COMMANDS, Context, Outcome
from ._errors import ExitCode, UsageError, error_data, error_message, exit_code

EngineFactory = Callable[[argparse.Namespace], ManagedServices]


def make_engine(args: argparse.Namespace) -> ManagedServices:
    """The engine for the global options (no request is sent until a command needs one)."""
    return ManagedServices(args.kubeconfig, args.context, prometheus_url=args.prometheus_url)


def run(
    argv: Sequence[str],
    *,
    make_engine: EngineFactory = make_engine,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run one command line; every outcome, including a usage error, becomes an exit code."""
    stdin, stdout, stderr = stdin or sys.stdin, stdout or sys.stdout, stderr or sys.stderr
    try:
        args = _app.parse(argv)
    except UsageError as exc:
        hint = f" (see '{exc.command} --help')" if exc.command else ""
        return _report(exc, json=_app.wants_json(argv), debug=False, stdout=stdout, stderr=stderr, hint=hint)
    except SystemExit as exc:  # --help and --version print and exit 0
        return exc.code if isinstance(exc.code, int) else ExitCode.OK

    ctx = Context(args=args, make_engine=make_engine, stdin=stdin, stdout=stdout, stderr=stderr)
    json = args.output == "json"
    try:
        outcome = COMMANDS[args.command](ctx, args)
        _print(outcome, json=json, stdout=stdout, stderr=stderr)
    except BrokenPipeError:
        # The reader went away (`logs | head`): stop quietly.
        _silence(stdout)
        return ExitCode.OK
    except (Exception, KeyboardInterrupt) as exc:
        hint = f" (see '{exc.command} --help')" if isinstance(exc, UsageError) and exc.command else ""
        return _report(exc, json=json, debug=args.debug, stdout=stdout, stderr=stderr, hint=hint)
    finally:
        ctx.close()
    return ExitCode.OK


def _print(outcome: Outcome, *, json: bool, stdout: TextIO, stderr: TextIO) -> None:
    for note in outcome.notes:
        stderr.write(f"note: {note}\n")
    if json:
        stdout.write(_render.to_json(_render.envelope("ok", outcome.message, outcome.data)) + "\n")
    elif outcome.text:
        stdout.write(outcome.text + "\n")
    stdout.flush()


def _report(exc: BaseException, *, json: bool, debug: bool, stdout: TextIO, stderr: TextIO, hint: str = "") -> int:
    code = exit_code(exc)
    message = error_message(exc)
    if debug:
        traceback.print_exception(exc, file=stderr)
    if json:
        data = error_data(exc)
        stdout.write(_render.to_json(_render.envelope("error", message, data)) + "\n")
        stdout.flush()
    stderr.write(f"error: {message}{hint}\n")
    stderr.flush()
    return int(code)


def _silence(stdout: TextIO) -> None:
    """After a broken pipe, point stdout at /dev/null so the interpreter's final flush is quiet."""
    if stdout is not sys.stdout:
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def main(argv: list[str] | None = None) -> int:
    """The `managed-services` console script."""
    return run(sys.argv[1:] if argv is None else argv)
