"""The `managed-services` command line: a thin adapter over the engine's operations.

    managed-services offerings
    managed-services create -w acme -p shop --name orders-db --slug postgres-16
    managed-services --output json get orders-db-7f3k2

Layout (each module imports only the ones above it):

    _errors    exit codes and the engine-error -> exit-code mapping
    _render    pure rendering: JSON envelope, aligned tables, sparklines
    _progress  the live progress display on stderr while a command waits
    _app       the argument parser: sub-commands, options, help texts
    _commands  one function per sub-command: call the engine, shape the result
    _main      parse, run, print the outcome or the error, return the exit code

The CLI never re-implements engine rules (validation, naming, readiness, masking): it maps
flags to engine arguments and engine errors to exit codes.
"""

from ._main import main, run

__all__ = ["main", "run"]
