"""Domain errors carry a user-facing message id; the errors router translates and shows it."""

from __future__ import annotations

from typing import Any


def N_(message: str) -> str:
    """Marks a message id for extraction without translating it (translated when shown)."""
    return message


class DomainError(Exception):
    message = N_("This action cannot be done.")

    def __init__(self, message: str | None = None, **params: Any) -> None:
        super().__init__(message or self.message)
        if message is not None:
            self.message = message
        self.params = params


class AccessDenied(DomainError):
    message = N_("You don't have access to this.")


class NotFound(DomainError):
    message = N_("Not found: it may have been deleted or archived.")


class InvalidInput(DomainError):
    message = N_("That doesn't look right. Please try again.")
