"""Exit codes, and the mapping from engine errors to them.

0  ok
1  error            anything else (including an unexpected failure)
2  usage            bad flags or bad input; nothing was changed
3  not found        no such managed service
4  conflict         the name is taken, another writer won, or the field cannot change in place
5  unavailable      the cluster cannot be reached, or refused our credentials
6  timeout          waiting gave up; the message carries the last state seen
130 interrupted     Ctrl-C (except `logs --follow`, where Ctrl-C is the normal way out)
"""

from __future__ import annotations

import enum
from typing import Any

from ..errors import (
    Conflict,
    Immutable,
    InvalidInput,
    KubernetesUnavailable,
    ManagedServicesError,
    NotFound,
    Timeout,
)


class ExitCode(enum.IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2
    NOT_FOUND = 3
    CONFLICT = 4
    UNAVAILABLE = 5
    TIMEOUT = 6
    INTERRUPTED = 130


EPILOG_EXIT_CODES = """\
exit codes:
    0  success
    1  any other error
    2  usage error or invalid input (nothing was changed)
    3  managed service not found
    4  conflict: the name is taken, another writer won, or the field cannot change in place
    5  the cluster cannot be reached or refused our credentials
    6  timed out waiting (the message says what was still pending)
  130  interrupted (Ctrl-C)"""


class UsageError(Exception):
    """Bad command-line usage, found by the CLI itself (argparse, flag combinations)."""

    def __init__(self, message: str, command: str | None = None) -> None:
        self.command = command
        super().__init__(message)


class Cancelled(Exception):
    """The user answered no to a confirmation; nothing was changed."""


# Most specific first: CatalogError is an InvalidInput, Forbidden a KubernetesUnavailable.
_CODES: tuple[tuple[type[BaseException], ExitCode], ...] = (
    (UsageError, ExitCode.USAGE),
    (InvalidInput, ExitCode.USAGE),
    (NotFound, ExitCode.NOT_FOUND),
    (Immutable, ExitCode.CONFLICT),
    (Conflict, ExitCode.CONFLICT),
    (KubernetesUnavailable, ExitCode.UNAVAILABLE),
    (Timeout, ExitCode.TIMEOUT),
    (KeyboardInterrupt, ExitCode.INTERRUPTED),
)


def exit_code(exc: BaseException) -> ExitCode:
    """The exit code for an error that ended a command."""
    for kind, code in _CODES:
        if isinstance(exc, kind):
            return code
    return ExitCode.ERROR


def one_line(text: str) -> str:
    """`text` on a single line (apiserver and YAML messages may span several)."""
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def error_message(exc: BaseException) -> str:
    """What to tell the user, on one line; unexpected errors name their type."""
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    text = one_line(str(exc))
    if isinstance(exc, ManagedServicesError | UsageError | Cancelled):
        return text or type(exc).__name__
    return f"unexpected {type(exc).__name__}: {text}" if text else f"unexpected {type(exc).__name__}"


def error_data(exc: BaseException) -> dict[str, Any]:
    """The `data` of a JSON error envelope: the error's kind, exit code and details."""
    data: dict[str, Any] = {
        "error": type(exc).__name__,
        "exit_code": int(exit_code(exc)),
        "retryable": bool(getattr(exc, "retryable", False)),
    }
    if isinstance(exc, InvalidInput):
        data["fields"] = [{"field": e.field, "message": e.message} for e in exc.errors]
    if isinstance(exc, Immutable):
        data["fields"] = [{"field": exc.field, "message": str(exc).removeprefix(f"{exc.field}: ")}]
    if isinstance(exc, Timeout):
        data["last_state"] = exc.last_state
    return data
