"""Errors raised by the managed-services engine.

Every error a caller can act on derives from `ManagedServicesError`::

    ManagedServicesError
     ├── InvalidInput          bad input, caught before anything changes (names the field and the rule)
     │    └── CatalogError     an offering file is invalid (names the file and the field)
     ├── Immutable             the field cannot change in place (names the field and the way out)
     ├── NotFound              no such managed service (or it is already gone)
     ├── Conflict              the name is taken in the project, or another writer won
     ├── Timeout               waiting gave up; carries the last state seen
     └── KubernetesUnavailable the cluster cannot be reached or refused our credentials
          └── Forbidden        RBAC denied a request (names the verb and the resource)

`retryable` tells an adapter whether the same call may succeed later unchanged
(temporary) or needs a change first (permanent).
"""

from __future__ import annotations

from dataclasses import dataclass


class ManagedServicesError(Exception):
    """Base of every error the engine raises on purpose."""

    retryable: bool = False

    @property
    def message(self) -> str:
        return str(self)


@dataclass(frozen=True)
class FieldError:
    """One bad field: its dotted path (`env.PGDATA`, `volume_size`) and the rule it broke."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class InvalidInput(ManagedServicesError):
    """One or more inputs break a rule. Nothing was changed."""

    def __init__(self, errors: list[FieldError] | FieldError | str, message: str | None = None) -> None:
        if isinstance(errors, str):
            errors = [FieldError(errors, message or "is invalid")]
        elif isinstance(errors, FieldError):
            errors = [errors]
        self.errors: list[FieldError] = list(errors)
        super().__init__("; ".join(str(e) for e in self.errors))

    @property
    def field(self) -> str:
        return self.errors[0].field


class CatalogError(InvalidInput):
    """An offering file is invalid; the message names the file and the field."""


class Immutable(ManagedServicesError):
    """The field cannot be changed in place."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


class NotFound(ManagedServicesError):
    """No such managed service."""


class Conflict(ManagedServicesError):
    """The request conflicts with what exists (a taken name, a concurrent writer)."""

    retryable = True


class Timeout(ManagedServicesError):
    """Waiting gave up before the service converged."""

    retryable = True

    def __init__(self, message: str, last_state: str | None = None) -> None:
        self.last_state = last_state
        super().__init__(f"{message}; last seen: {last_state}" if last_state else message)


class KubernetesUnavailable(ManagedServicesError):
    """The cluster cannot be reached, or it rejected our credentials."""

    retryable = True


class Forbidden(KubernetesUnavailable):
    """RBAC denied a request."""

    retryable = False
