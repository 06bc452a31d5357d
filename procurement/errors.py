"""The one application error type. Views and the API turn it into a message or a JSON body."""

from __future__ import annotations


class ApplicationError(Exception):
    """A business rule refused the operation. `code` is stable; `message` is for people."""

    status = 400
    code = "invalid"

    def __init__(self, message: str, *, fields: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


class InvalidInput(ApplicationError):
    status = 400
    code = "invalid"


class NotAllowed(ApplicationError):
    """The user may see the object but may not do this to it."""

    status = 403
    code = "permission_denied"


class NotFound(ApplicationError):
    """The object does not exist, or the user may not see it: the two look the same."""

    status = 404
    code = "not_found"


class Conflict(ApplicationError):
    """The object is not in a state that allows this (already submitted, already decided...)."""

    status = 409
    code = "conflict"
