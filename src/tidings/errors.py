"""Domain errors; the web layer maps each to one HTTP status and message."""

from __future__ import annotations

from typing import Any


class TidingsError(Exception):
    """Base of every error Tidings reports to a user."""

    status_code = 400

    def __init__(self, detail: Any) -> None:
        super().__init__(detail if isinstance(detail, str) else repr(detail))
        self.detail = detail


class NotFound(TidingsError):
    """The thing asked for does not exist."""

    status_code = 404


class Conflict(TidingsError):
    """The request clashes with the current state (e.g. an email already in use)."""

    status_code = 409


class Invalid(TidingsError):
    """The input is well-formed JSON but not acceptable (422)."""

    status_code = 422
