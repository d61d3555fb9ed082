"""Log lines as JSON objects (or text), each carrying the id of the request it belongs to.

python-json-logger is a ``logging.Formatter``: Django's ``LOGGING``, the toolkit's loggers and
ours keep the standard library's API, and only the handlers change. (structlog would bring a
second logging pipeline for the same result.) A field is written only when it is in
:data:`FIELDS`: a record's other attributes, such as the ``request`` that ``django.request``
attaches (its repr holds the query string, where a GET introspection carries its token), never
reach a line. See docs/operations.md.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path

from pythonjsonlogger.json import JsonFormatter

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
tenant: ContextVar[str | None] = ContextVar("tenant", default=None)

# What a JSON line may hold: the record's basics, the request context, and the request line's fields.
FIELDS = frozenset(
    {"time", "level", "logger", "message", "request_id", "tenant", "method", "path", "status", "duration_ms"}
)
FIELDS_OF_ERRORS = frozenset({"exc_info", "stack_info"})


def _iso_time(created: float) -> str:
    return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class RequestContextFilter(logging.Filter):
    """Give every record the ``request_id`` and ``tenant`` of the request being served (or None)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        record.tenant = tenant.get()
        return True


class JsonLineFormatter(JsonFormatter):
    """One JSON object per line: time, level, logger, message, request id, tenant, and the
    request line's method, path (never its query), status and duration."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("fmt", "%(levelname)s %(name)s %(message)s")
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        super().__init__(*args, **kwargs)

    def add_fields(self, log_record: dict, record: logging.LogRecord, message_dict: dict) -> None:
        log_record["time"] = _iso_time(record.created)
        super().add_fields(log_record, record, message_dict)
        for key in [key for key in log_record if key not in FIELDS and key not in FIELDS_OF_ERRORS]:
            del log_record[key]


class TextFormatter(logging.Formatter):
    """For humans: ``time level logger [request id] message``."""

    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")


class AuditFormatter(logging.Formatter):
    """An audit event as one JSON object: time, event, request id, then the event's fields."""

    def format(self, record: logging.LogRecord) -> str:
        event = getattr(record, "audit", None) or {"event": record.getMessage()}
        line = {"time": _iso_time(record.created), "request_id": request_id.get(), **event}
        return json.dumps(line, default=str, separators=(",", ":"))


class AuditFileHandler(logging.handlers.WatchedFileHandler):
    """Append to the audit file, readable by the owner only (0600, in a 0700 folder).

    Watched: after logrotate moves the file, the next line opens a new one.
    """

    def __init__(self, filename: str):
        path = Path(filename)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
        super().__init__(path, encoding="utf-8")

    def _open(self):
        # A rotated-away file is created anew by the handler itself: give it the same mode.
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        return os.fdopen(fd, "a", encoding=self.encoding)


def logging_config(deployment) -> dict:
    """Return Django's ``LOGGING`` for ``[logging]`` (format, level, audit_file) of ``deployment``."""
    logs = deployment.logging
    json_lines = (logs.format or ("text" if deployment.server.debug else "json")) == "json"
    audit_handler: dict = (
        {"class": "logging.StreamHandler", "formatter": "audit"}
        if logs.audit_file == "-"
        else {
            "class": "identity.logs.AuditFileHandler",
            "formatter": "audit",
            "filename": str(deployment.resolve_path(logs.audit_file)),
        }
    )
    # Their DEBUG messages carry tokens, codes and secrets ("Issuing token {...}"): they stay at
    # INFO or above whatever the level is, so tokens never reach a log.
    toolkit_level = "INFO" if logs.level == "DEBUG" else logs.level
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request": {"()": "identity.logs.RequestContextFilter"}},
        "formatters": {
            "json": {"()": "identity.logs.JsonLineFormatter"},
            "text": {"()": "identity.logs.TextFormatter"},
            "audit": {"()": "identity.logs.AuditFormatter"},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "json" if json_lines else "text",
                "filters": ["request"],
            },
            "audit": audit_handler,
        },
        "root": {"handlers": ["console"], "level": logs.level},
        "loggers": {
            # Replaces Django's own DEBUG-only console handler, which would print every line twice.
            "django": {"handlers": ["console"], "level": logs.level, "propagate": False},
            "oauthlib": {"level": toolkit_level},
            "oauth2_provider": {"level": toolkit_level},
            # Audit events go to the audit file only, whatever the level of the other logs.
            "audit": {"handlers": ["audit"], "level": "INFO", "propagate": False},
        },
    }
