"""Log lines for operators: one JSON object per line in production, plain text elsewhere.

Every line carries the id of the request it was written during (``request_id``, empty
outside a request), set by :class:`citydata.ops.requests.RequestContextMiddleware`, so the
lines of one request can be found together and matched to the ``X-Request-ID`` a user
reports. Fields passed with ``extra=`` are written as fields of their own.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from citydata.settings import Settings

#: The id of the request being handled in this context ("" outside a request).
request_id_var: ContextVar[str] = ContextVar("citydata_request_id", default="")

# The attributes every LogRecord has; anything else on a record came from ``extra=``.
# uvicorn adds ``color_message`` (the message with terminal colour codes): not for a log file.
_RECORD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {
    "message", "asctime", "taskName", "request_id", "color_message"}
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


def current_request_id() -> str:
    """The id of the request being handled, or "" outside a request."""
    return request_id_var.get()


class RequestIdFilter(logging.Filter):
    """Stamps each record with the current request id (both formats read it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", ""):
            record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    """One compact JSON object per record: time (ISO 8601, UTC), level, logger, message,
    request_id, then any extra fields; an exception's traceback goes in ``exception``."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "") or request_id_var.get(),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRS and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exception"] = record.exc_text
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def make_handler(log_format: str, stream: Any = None) -> logging.Handler:
    """A stream handler (stderr by default) in the given format, stamping request ids."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else
                         logging.Formatter(TEXT_FORMAT))
    handler.addFilter(RequestIdFilter())
    return handler


def configure_logging(settings: Settings, level: int = logging.INFO) -> None:
    """Send every logger's lines (ours, uvicorn's, libraries') to stderr in the configured
    format. Safe to call again: it replaces the handler it installed before.

    uvicorn's own access log is silenced: the request middleware writes a better one (route
    template instead of the raw path, so query strings holding tokens are never logged).
    """
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_citydata", False)]:
        root.removeHandler(old)
    handler = make_handler(settings.log_format)
    handler._citydata = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    access = logging.getLogger("uvicorn.access")
    access.handlers.clear()
    access.disabled = True
    # httpx logs every outgoing URL at info (harvest and webhook URLs may hold credentials);
    # alembic logs its context on every readiness probe.
    for name in ("httpx", "httpcore", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
