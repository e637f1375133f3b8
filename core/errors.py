"""The domain error every service raises, translated by each interface (API, portal, admin)."""

from __future__ import annotations

from typing import Any

from django.utils.functional import Promise


class DomainError(Exception):
    """A refused business action.

    ``code`` is stable and machine-readable (the API returns it in problem+json); ``message`` is
    human-readable and translatable; ``status`` is the HTTP status the API answers with;
    ``details`` carries extra, JSON-serialisable facts (for example the points missing).
    """

    code: str = "domain_error"
    status: int = 400
    default_message: str | Promise = "The request could not be carried out."

    def __init__(self, message: str | Promise | None = None, *, code: str | None = None, **details: Any) -> None:
        self.message = str(message or self.default_message)
        if code is not None:
            self.code = code
        self.details = details
        super().__init__(self.message)


class NotFound(DomainError):
    code = "not_found"
    status = 404
    default_message: str | Promise = "Not found."


class Conflict(DomainError):
    code = "conflict"
    status = 409
    default_message: str | Promise = "The request conflicts with the current state."
