"""Domain errors. Library code raises these; adapters turn them into their API family's shape.

Each error carries the HTTP status it means, a stable machine code, a message that is safe to
show a user, and optional per-field messages. Nothing internal (SQL, paths, tracebacks) goes in
the message: that belongs in the log.
"""

from __future__ import annotations


class CitydataError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, fields: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


class ValidationError(CitydataError):
    status = 400
    code = "validation_error"


class QueryError(ValidationError):
    """A search or query parameter that cannot be understood (CKAN: Search Query Error)."""

    status = 400
    code = "query_error"


class NotAuthenticated(CitydataError):
    status = 401
    code = "not_authenticated"


class Forbidden(CitydataError):
    status = 403
    code = "forbidden"


class NotFound(CitydataError):
    status = 404
    code = "not_found"


class Conflict(CitydataError):
    status = 409
    code = "conflict"


class PayloadTooLarge(CitydataError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(CitydataError):
    status = 415
    code = "unsupported_media_type"


class Unavailable(CitydataError):
    """Another node this request depends on cannot be reached now: try again later."""

    status = 503
    code = "unavailable"


def field_error(field: str, message: str) -> ValidationError:
    """A validation error about one field, with the message also used as the summary."""
    return ValidationError(f"{field}: {message}", fields={field: [message]})
