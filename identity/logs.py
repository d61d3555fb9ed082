"""Log lines as JSON objects (or text), each carrying the id of the request it belongs to.

The JSON lines come from a ``logging.Formatter`` of our own: Django's ``LOGGING``, the toolkit's
loggers and ours keep the standard library's API, and only the handlers change (structlog would
bring a second logging pipeline; python-json-logger's generic walk over each record cost three
times this formatter on the introspection hot path, docs/performance.md). A field is written
only when it is named here: a record's other attributes, such as the ``request`` that ``django.request``
attaches (its repr holds the query string, where a GET introspection carries its token), never
reach a line (``REQUEST_LINE_FIELDS``). See docs/operations.md.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import operator
import os
import sys
import time
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from itertools import chain, groupby, repeat
from operator import attrgetter, itemgetter
from pathlib import Path

from identity import batches, log_changes

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
tenant: ContextVar[str | None] = ContextVar("tenant", default=None)

# What a JSON line may hold besides the record's basics and the request context.
REQUEST_LINE_FIELDS = ("method", "path", "status", "duration_ms")


# Every line is encoded by one encoder (C-accelerated); what it cannot encode is written as text.
_encode = json.JSONEncoder(default=str).encode
_encode_compact = json.JSONEncoder(default=str, separators=(",", ":")).encode
_second: tuple[int, str] = (-1, "")  # the last second formatted, and its text
_millisecond: tuple[int, str] = (-1, "")  # the last millisecond formatted, and its text
_FRACTIONS = tuple(f".{fraction:03d}Z" for fraction in range(1000))  # a time's end, made once


def _iso_time(created: float) -> str:
    """Return ``created`` as ISO 8601 UTC with milliseconds (``2026-12-01T22:00:00.123Z``)."""
    global _second, _millisecond
    millisecond = int(created * 1000)
    last = _millisecond  # read once: the batch thread formats times too
    if millisecond != last[0]:  # a request's lines share theirs
        second, fraction = divmod(millisecond, 1000)
        day_time = _second
        if second != day_time[0]:  # one strftime a second, not one a line
            day_time = _second = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
        last = _millisecond = (millisecond, day_time[1] + _FRACTIONS[fraction])
    return last[1]


def _values(record: logging.LogRecord) -> tuple[float, str, str, str, dict]:
    """What a formatter's ``line`` is made of, taken from a record."""
    return record.created, record.levelname, record.name, record.getMessage(), record.__dict__


class RequestContextFilter(logging.Filter):
    """Give every record the ``request_id`` and ``tenant`` of the request being served (or None)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        record.tenant = tenant.get()
        return True


class JsonLineFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, tenant, and the
    request line's method, path (never its query), status and duration.

    The fields are picked up front rather than by a walk over every record attribute: cheaper
    on the hot path, and nothing unlisted can slip in.
    """

    PREPARABLE = True  # see prepare()

    def fields(self, created: float, level: str, name: str, message: str, attributes: dict) -> dict:
        line = {
            "time": _iso_time(created),
            "level": level,
            "logger": name,
            "message": message,
            "request_id": attributes.get("request_id"),
            "tenant": attributes.get("tenant"),
        }
        for key in REQUEST_LINE_FIELDS:
            if key in attributes:
                line[key] = attributes[key]
        return line

    def line(self, created: float, level: str, name: str, message: str, attributes: dict) -> str:
        return _encode(self.fields(created, level, name, message, attributes))

    def format(self, record: logging.LogRecord) -> str:
        line = self.fields(
            record.created, record.levelname, record.name, record.getMessage(), record.__dict__
        )
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack_info"] = self.formatStack(record.stack_info)
        return _encode(line)


# Control characters (C0, DEL, C1, the Unicode line and paragraph separators) as escapes.
_CONTROLS = {code: ascii(chr(code))[1:-1] for code in (*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029)}


def without_line_breaks(message: str) -> str:
    """Return ``message`` with its control characters escaped (``\\n``, ``\\x1b``): what a
    request or a caller controls (a path, a user name) cannot start a line of its own in a
    text log (OWASP's log injection)."""
    return message.translate(_CONTROLS)


class TextFormatter(logging.Formatter):
    """For humans: ``time level logger [request id] message`` (the time in local time, as the
    standard library's ``asctime``), then the exception's traceback when there is one. A record
    is one line whatever it holds: the message's and the traceback's line breaks are escaped
    (:func:`without_line_breaks`), so that no line is a traceback's and none can be forged by
    an exception's message (docs/operations.md#logs)."""

    def line(self, created: float, level: str, name: str, message: str, attributes: dict) -> str:
        asctime = time.strftime(self.default_time_format, time.localtime(created))
        request = attributes.get("request_id")
        text = without_line_breaks(message)
        return f"{asctime},{int(created % 1 * 1000):03d} {level} {name} [{request}] {text}"

    def format(self, record: logging.LogRecord) -> str:
        text = self.line(*_values(record))
        if record.exc_info:
            text += without_line_breaks("\n" + self.formatException(record.exc_info))
        if record.stack_info:
            text += without_line_breaks("\n" + self.formatStack(record.stack_info))
        return text


class AuditFormatter(logging.Formatter):
    """An audit event as one JSON object: time, event, request id, then the event's fields."""

    PREPARABLE = True  # see prepare()

    def line(self, created: float, level: str, name: str, message: str, attributes: dict) -> str:
        event = attributes.get("audit") or {"event": message}
        rid = attributes.get("request_id", request_id.get())
        return _encode_compact({"time": _iso_time(created), "request_id": rid, **event})

    def format(self, record: logging.LogRecord) -> str:
        return self.line(*_values(record))


class LineWriting(logging.Handler):
    """What the handlers of ours add to the standard library's: lines written in batches.

    A line (a record's, or one already formatted by :func:`info`) is kept in memory and written
    with the others every ``flush_interval`` seconds by a thread of the process, at once when it
    is a WARNING or worse, when 64 KiB are waiting, and when the process exits
    (``logging.shutdown`` flushes every handler). One write for many lines: on the hot path a
    write and a flush per line cost more than the rest of the line, and the workers that append
    to one file wait for each other at each write. With ``flush_interval = 0`` each line is
    written at once. A process killed outright (SIGKILL) loses at most its last interval of
    lines (docs/operations.md#logs).
    """

    MAX_WAITING = 64 * 1024  # characters

    def setup_batches(self, flush_interval: float) -> None:
        self.flush_interval = flush_interval
        self._waiting: list[str] = []
        self._waiting_size = 0
        self._waiting_since = 0.0  # time.monotonic() of the first line waiting
        if flush_interval > 0:
            batches.flusher.watch(self)

    def open_stream(self) -> None:
        """Make ``self.stream`` ready for the next write (a file handler reopens a moved file)."""

    def handle(self, record: logging.LogRecord) -> logging.LogRecord | bool:
        batches.drain()  # the lines handed over before this one go first (not under our lock)
        return super().handle(record)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        self.write_line(line, at_once=record.levelno >= logging.WARNING, drained=True)

    def write_line(self, line: str, *, at_once: bool = False, drained: bool = False) -> None:
        if not drained:
            batches.drain()
        text = line + self.terminator  # type: ignore[attr-defined]
        with self.lock:  # type: ignore[union-attr]
            if not self._waiting:
                self._waiting_since = time.monotonic()
            self._waiting.append(text)
            self._waiting_size += len(text)
            if at_once or not self.flush_interval or self._waiting_size >= self.MAX_WAITING:
                self._write_waiting()
            else:
                batches.flusher.ensure_running()

    def add_text(self, text: str, since: float) -> None:
        """Keep ``text``, whole lines formatted by the batch thread (:func:`write_prepared`),
        written as though they had waited since ``since`` (``time.monotonic()``)."""
        with self.lock:  # type: ignore[union-attr]
            if not self._waiting or since < self._waiting_since:
                self._waiting_since = since
            self._waiting.append(text)
            self._waiting_size += len(text)
            if self._waiting_size >= self.MAX_WAITING:
                self._write_waiting()

    def flush(self) -> None:
        batches.drain()  # lines handed over and not formatted yet: before the process exits too
        with self.lock:  # type: ignore[union-attr]
            self._write_waiting()

    def flush_if_due(self, now: float) -> None:
        """Write the waiting lines when the first has waited ``flush_interval`` seconds."""
        if self._waiting and now - self._waiting_since >= self.flush_interval:
            self.flush()

    def _write_waiting(self) -> None:
        """Write the waiting lines in one write (the caller holds the lock)."""
        if not self._waiting:
            return
        text = "".join(self._waiting)
        self._waiting.clear()
        self._waiting_size = 0
        try:
            self.open_stream()
            self.stream.write(text)  # type: ignore[attr-defined]
            super().flush()  # the stream's own buffer
        except Exception:
            self.handleError(logging.makeLogRecord({"msg": text}))

    def forget_waiting(self) -> None:
        """In a child process just forked: the lines waiting are the parent's to write."""
        self._waiting = []
        self._waiting_size = 0


class ConsoleHandler(LineWriting, logging.StreamHandler):
    """The server's log lines, on standard error."""

    def __init__(self, stream=None, flush_interval: float = 0.0):
        super().__init__(stream)
        self.setup_batches(flush_interval)


class AuditFileHandler(LineWriting, logging.handlers.WatchedFileHandler):
    """Append to the audit file, readable by the owner only (0600, in a 0700 folder).

    Watched: within a second after logrotate moved the file, lines go to a new one (the file is
    looked at once a second, not at every line: a ``stat`` per line was a tenth of the cost of
    a replayed introspection).
    """

    WATCH_EVERY = 1.0  # seconds

    def __init__(self, filename: str, flush_interval: float = 0.0):
        path = Path(filename)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
        super().__init__(path, encoding="utf-8")
        self._watched_at = time.monotonic()
        self.setup_batches(flush_interval)

    def reopenIfNeeded(self) -> None:  # the standard library names it
        now = time.monotonic()
        if now - self._watched_at >= self.WATCH_EVERY:
            self._watched_at = now
            super().reopenIfNeeded()

    def open_stream(self) -> None:
        self.reopenIfNeeded()
        if self.stream is None:  # as FileHandler.emit: after close(), or when opening was delayed
            self.stream = self._open()

    def _open(self):
        # A rotated-away file is created anew by the handler itself: give it the same mode.
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        return os.fdopen(fd, "a", encoding=self.encoding)


def info(logger: logging.Logger, message: str, extra: dict) -> None:
    """Log ``message`` at INFO on ``logger``, ``extra`` being the record's attributes.

    On the hot path (a request line, an audit event per introspection) a line goes straight to
    the one handler of ours that would write it, formatted by its formatter from the same
    values as a record's: no ``LogRecord``, no walk of filters and handlers (a sixth of the
    cost). When anything else would see the record (another handler, such as a test's capture,
    or a filter), it goes through ``logger`` as any line.
    """
    if not logger.isEnabledFor(logging.INFO):
        return
    handler = writer_of(logger)
    if handler is None:
        logger.info(message, extra=extra)
        return
    attributes = {**extra, "request_id": request_id.get(), "tenant": tenant.get()}
    formatter = handler.formatter
    handler.write_line(formatter.line(time.time(), "INFO", logger.name, message, attributes))  # type: ignore[union-attr]


# What a prepared line holds in place of the values it leaves open; each renders as itself.
_TIME_MARK = 0.0  # the epoch: "1970-01-01T00:00:00.000Z"
_ID_MARK = "\x00request id\x00"
_DURATION_MARK = 1e-300


class PreparedLine:
    """A line of ``logger`` formatted ahead of time but for its time, request id and duration:
    what a replayed answer writes (introspection/replay.py), with the text of the line its
    request would have written, at the cost of one join of its pieces (half the time of a ``%``
    template, which scans every character of the line; ``str.format`` parses a JSON line's
    braces as escapes: slower still)."""

    def __init__(
        self, logger: logging.Logger, handler: LineWriting, parts: tuple[str, ...], order: tuple[int, ...]
    ):
        # ``parts``: the line's text around the values it leaves open; ``order``: which of (time,
        # request id, duration) each of those is, in turn.
        self.logger, self.handler, self.parts, self.order = logger, handler, parts, order

    def current(self) -> bool:
        """Whether ``logger``'s INFO lines still go to that handler alone (when not, write the
        line the usual way: a handler or filter added since sees it)."""
        return writer_of(self.logger) is self.handler

    def text(self, created: float, rid: str, duration_ms: float = 0.0) -> str:
        """The line of a request served at ``created`` (``time.time()``) under the id ``rid``, a
        well-formed request id (identity/request_id.py), whose characters JSON writes as they are."""
        values = map((_iso_time(created), rid, repr(duration_ms)).__getitem__, self.order)
        # Each part but the last, then the value after it; then the last part.
        return "".join(chain.from_iterable(zip(self.parts, values, strict=False))) + self.parts[-1]

    def write(self, created: float, rid: str, duration_ms: float = 0.0) -> bool:
        """Write the line; False (nothing written) when it is no longer :meth:`current`."""
        if not self.current():
            return False
        self.handler.write_line(self.text(created, rid, duration_ms))
        return True


def prepare(logger: logging.Logger, message: str, extra: dict, domain: str | None) -> PreparedLine | None:
    """Return ``message`` with ``extra`` (a ``duration_ms`` of any value left open) as a
    :class:`PreparedLine` of ``logger``, or None when its handler's format cannot be prepared."""
    handler = _sole_writer(logger)
    formatter = handler.formatter if handler is not None else None
    if handler is None or not getattr(formatter, "PREPARABLE", False):
        return None
    attributes = {**extra, "request_id": _ID_MARK, "tenant": domain}
    if "duration_ms" in extra:
        attributes["duration_ms"] = _DURATION_MARK
    text = formatter.line(_TIME_MARK, "INFO", logger.name, message, attributes)  # type: ignore[union-attr]
    # What stands for each open value in ``text``: (its index in PreparedLine.text's values, its text).
    marks = [(0, _iso_time(_TIME_MARK)), (1, _encode(_ID_MARK)[1:-1])]
    if "duration_ms" in extra:
        marks.append((2, repr(_DURATION_MARK)))
    found = sorted((text.find(value), index, value) for index, value in marks)
    if any(at < 0 or text.count(value) != 1 for at, _, value in found):
        return None
    parts, start = [], 0
    for at, _, value in found:
        parts.append(text[start:at])
        start = at + len(value)
    parts.append(text[start:])
    # One string for each text however many answers hold it (a path's request lines are the
    # same text): the batch thread reads less memory a request (docs/operations.md#cost).
    parts = list(map(sys.intern, parts))
    return PreparedLine(logger, handler, tuple(parts), tuple(index for _, index, _ in found))


def layout_of(lines: tuple[PreparedLine, ...]) -> tuple:
    """What the lines of a request have in common with those of other requests written the same
    way: each one's handler, the order of its open values and its number of parts. One object
    for each (the batch thread compares them by identity)."""
    layout = tuple((line.handler, line.order, len(line.parts)) for line in lines)
    return _layouts.setdefault(layout, layout)


_layouts: dict[tuple, tuple] = {}


def write_prepared(
    layouts: list[tuple],
    lines_of: list[tuple[PreparedLine, ...]],
    created: list[float],
    rids: list[str],
    durations: list[str],
    since: float,
) -> None:
    """Write the prepared lines of requests, given a column each: their lines' layout
    (:func:`layout_of`), the lines, the request's time (``time.time()``), its id and its
    duration's text (:func:`duration_texts`); made by the batch thread for requests since
    ``since`` (``time.monotonic()``), each run of one layout at once (:func:`_write_run`)."""
    start = 0
    for layout, run in groupby(layouts):
        stop = start + len(list(run))
        run = slice(start, stop)
        _write_run(layout, lines_of[run], created[run], rids[run], durations[run], since)
        start = stop


def _write_run(
    layout: tuple, lines_of: list, created: list[float], rids: list[str], durations: list[str], since: float
) -> None:
    """Write the lines of requests of one ``layout``, one text a handler, by C code alone: each
    line's pieces as columns (its parts, picked from every request's line, and the values in
    their order), zipped, chained and joined, with no Python step a request (a third of the
    cost of joining each line's pieces in turn)."""
    values = (list(map(_iso_time, created)), rids, durations)
    columns: dict[LineWriting, list[Iterable[str]]] = {}
    for slot, (handler, order, count) in enumerate(layout):
        parts = list(map(attrgetter("parts"), map(itemgetter(slot), lines_of)))
        pieces = columns.setdefault(handler, [])
        for at, value in enumerate(order):
            pieces += (map(itemgetter(at), parts), values[value])
        pieces += (map(itemgetter(count - 1), parts), repeat(handler.terminator))  # type: ignore[attr-defined]
    for handler, pieces in columns.items():
        # The terminators repeat without end: the request's columns end the zip.
        handler.add_text("".join(chain.from_iterable(zip(*pieces, strict=False))), since)


class _DurationTexts(dict):
    """``"%.3f" % milliseconds`` -> the text JSON writes for ``round(milliseconds, 3)``: the same
    digits (both round the exact value, half to even, to three decimals), without the trailing
    zeros but one (``0.010`` -> ``0.01``, ``2.000`` -> ``2.0``). A replay's durations take few
    values: the texts are kept, up to ``KEPT``."""

    KEPT = 4096

    def __missing__(self, fixed: str) -> str:
        text = fixed.rstrip("0")
        if text.endswith("."):
            text += "0"
        if len(self) < self.KEPT:
            self[fixed] = text
        return text


_duration_texts = _DurationTexts()


def duration_texts(durations: Iterable[float]) -> Iterator[str]:
    """The ``duration_ms`` of each duration (seconds) as a request line writes it,
    ``repr(round(seconds * 1000, 3))``, for a fifth of the cost: a fixed-point format and a
    dict lookup (``round`` and ``repr`` each convert the float to decimal digits, about 1 µs
    a request in the batch thread)."""
    milliseconds = map(operator.mul, durations, repeat(1000))
    return map(_duration_texts.__getitem__, map("%.3f".__mod__, milliseconds))


def writer_of(logger: logging.Logger) -> LineWriting | None:
    """Return the handler of ours that alone writes ``logger``'s INFO lines (:func:`_sole_writer`),
    None when it writes none or another handler or a filter would see them (:class:`Route`)."""
    return route((logger,)).writers()[0]


def route(loggers: tuple[logging.Logger, ...]) -> Route:
    """Return the :class:`Route` of ``loggers``, one for the process (each replayed answer's
    pair of loggers is the same pair: one function made, not one an answer)."""
    found = _routes.get(loggers)
    if found is None:
        found = _routes[loggers] = Route(loggers)
    return found


class Route:
    """The handlers of ours that alone write the INFO lines of ``loggers`` (:func:`_sole_writer`;
    None for a logger that writes no INFO line, or whose records another handler or a filter
    would see), found again whenever anything they were found from has changed since: the
    ``logging.disable`` level; each logger's ``disabled``, the levels on the way to its first
    ancestor with one set (its effective level); for it and each ancestor its records reach,
    handlers, filters, ``propagate`` and parent (a logger created later between it and its
    ancestor changes it); and each of those handlers' level, formatter and filters.

    Those objects count their changes (identity/log_changes.py): whether anything changed since
    is one comparison of a count, where reading them all again cost a third of a replayed
    request's observability (docs/operations.md#cost).
    """

    def __init__(self, loggers: tuple[logging.Logger, ...]) -> None:
        self.loggers = loggers
        self._found: tuple[int, tuple[LineWriting | None, ...]] = (-1, ())  # (changes seen, writers)

    def writers(self) -> tuple[LineWriting | None, ...]:
        seen, writers = self._found  # one read: another thread may find them again
        if seen != log_changes.changes:
            writers = self._find()
        return writers

    def _find(self) -> tuple[LineWriting | None, ...]:
        while True:  # until a walk watched every object it read and saw no change meanwhile
            seen = log_changes.changes
            for each in self._found_from():
                log_changes.watch(each)
            writers = tuple(
                _sole_writer(logger) if logger.isEnabledFor(logging.INFO) else None for logger in self.loggers
            )
            if log_changes.changes == seen:
                self._found = (seen, writers)
                return writers

    def _found_from(self) -> Iterator[logging.Manager | logging.Logger | logging.Handler]:
        """The objects the writers are found from: the manager, the loggers on the way to each
        logger's effective level and to its last handlers, and the handlers of ours on that way
        (any other handler makes the writer None, whatever its attributes, until a list of
        handlers changes)."""
        yield logging.Logger.manager
        for logger in self.loggers:
            current: logging.Logger | None = logger
            while current is not None:  # to the first level set: the effective level
                yield current
                if current.level:
                    break
                current = current.parent
            current = logger
            while current is not None:  # to the last handlers its records reach
                yield current
                yield from (handler for handler in current.handlers if isinstance(handler, LineWriting))
                current = current.parent if current.propagate else None


_routes: dict[tuple[logging.Logger, ...], Route] = {}


def _sole_writer(logger: logging.Logger) -> LineWriting | None:
    """Return the handler of ours that alone receives ``logger``'s INFO records, with no filter
    on the way but :class:`RequestContextFilter`; else None."""
    found = None
    current: logging.Logger | None = logger
    while current is not None:
        if current.filters:
            return None
        for handler in current.handlers:
            if (
                found is not None
                or not isinstance(handler, LineWriting)
                or handler.level > logging.INFO
                or not hasattr(handler.formatter, "line")
                or any(not isinstance(each, RequestContextFilter) for each in handler.filters)
            ):
                return None
            found = handler
        current = current.parent if current.propagate else None
    return found


def skip_unused_record_fields() -> None:
    """Stop collecting what no line of ours writes: the caller's file and line, the thread and
    the multiprocessing process name. The logging HOWTO's "Optimization" section names these
    switches; each ``LogRecord`` then costs less on the hot path. (The process id stays:
    gunicorn's own lines write it.)"""
    logging._srcfile = None
    logging.logThreads = False
    logging.logMultiprocessing = False


def logging_config(deployment) -> dict:
    """Return Django's ``LOGGING`` for ``[logging]`` (format, level, audit_file) of ``deployment``."""
    logs = deployment.logging
    json_lines = (logs.format or ("text" if deployment.server.debug else "json")) == "json"
    audit_handler: dict = (
        {"class": "identity.logs.ConsoleHandler", "formatter": "audit"}
        if logs.audit_file == "-"
        else {
            "class": "identity.logs.AuditFileHandler",
            "formatter": "audit",
            "filename": str(deployment.resolve_path(logs.audit_file)),
        }
    )
    audit_handler["flush_interval"] = logs.flush_interval
    # Their DEBUG messages carry tokens, codes and secrets ("Issuing token {...}"; with debug on,
    # Django's SQL statements with their values: password hashes, private keys, codes, session
    # keys): they stay at INFO or above whatever the level is, so secrets never reach a log.
    secret_safe_level = "INFO" if logs.level == "DEBUG" else logs.level
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
                "class": "identity.logs.ConsoleHandler",
                "formatter": "json" if json_lines else "text",
                "filters": ["request"],
                "flush_interval": logs.flush_interval,
            },
            "audit": audit_handler,
        },
        "root": {"handlers": ["console"], "level": logs.level},
        "loggers": {
            # Replaces Django's own DEBUG-only console handler, which would print every line twice.
            "django": {"handlers": ["console"], "level": logs.level, "propagate": False},
            "django.db.backends": {"level": secret_safe_level},
            "oauthlib": {"level": secret_safe_level},
            "oauth2_provider": {"level": secret_safe_level},
            # Audit events go to the audit file only, whatever the level of the other logs.
            "audit": {"handlers": ["audit"], "level": "INFO", "propagate": False},
        },
    }
