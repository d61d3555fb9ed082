"""Log lines: JSON objects with the request id in every line of a request, the request line
with the path and never its query, and ``[logging]`` turned into Django's LOGGING."""

from __future__ import annotations

import io
import json
import logging
import os
import random
import sys
import time

import pytest
from django.utils.module_loading import import_string

from deployment import loads
from identity import logs
from identity.logs import (
    AuditFormatter,
    ConsoleHandler,
    JsonLineFormatter,
    LineWriting,
    RequestContextFilter,
    TextFormatter,
    logging_config,
)
from identity.logs import request_id as request_id_var
from identity.logs import tenant as tenant_var
from identity.request_id import request_id_for
from tests.support.auth import basic
from tests.support.introspection import ENDPOINT, SUPER, make_token
from tests.support.worlds import introspection_world

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def world(build_once):
    def make():
        world = introspection_world()
        world.access = make_token(world.clients[SUPER], scope="test1")
        return world

    return build_once(make)


class Lines(logging.Handler):
    """Every record of every logger, formatted as the console's JSON lines would be."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.addFilter(RequestContextFilter())
        self.setFormatter(JsonLineFormatter())
        self.lines: list[dict] = []

    def emit(self, record):
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def json_lines():
    handler = Lines()
    loggers = [logging.root, logging.getLogger("django"), logging.getLogger("audit")]
    for logger in loggers:
        logger.addHandler(handler)
    yield handler
    for logger in loggers:
        logger.removeHandler(handler)


class TestRequestId:
    @pytest.mark.parametrize(
        ("header", "kept"),
        [
            ("abc-123_X.y", True),
            ("a" * 128, True),
            ("a" * 129, False),
            ("", False),
            ("has space", False),
            ("semi;colon", False),
            ("new\nline", False),
            ("é", False),
        ],
    )
    def test_well_formed_or_generated(self, header, kept):
        rid = request_id_for(header)
        if kept:
            assert rid == header
        else:
            assert rid != header
            assert len(rid) == 32 and int(rid, 16) >= 0

    @pytest.mark.parametrize(("sent", "kept"), [("req-42", True), ("bad id!", False)])
    def test_echoed(self, client, world, sent, kept):
        response = client.get("/health/live", headers={"X-Request-ID": sent})
        assert (response["X-Request-ID"] == sent) is kept
        assert request_id_for(response["X-Request-ID"]) == response["X-Request-ID"]

    def test_generated_ids_differ(self, client, world):
        assert client.get("/health/live")["X-Request-ID"] != client.get("/health/live")["X-Request-ID"]

    def test_a_forked_worker_makes_ids_of_its_own(self):
        """New ids come from a generator of the process, seeded anew in each forked worker: a
        worker forked from the same parent as another never repeats its ids."""
        reading, writing = os.pipe()
        child = os.fork()
        if child == 0:
            os.write(writing, request_id_for(None).encode())
            os._exit(0)
        os.waitpid(child, 0)
        theirs = os.read(reading, 64).decode()
        os.close(reading)
        os.close(writing)
        assert len(theirs) == 32 and theirs != request_id_for(None)

    def test_every_line_of_a_request_carries_it(self, client, world, json_lines):
        """Django's own "Unauthorized: ..." line is written after the middleware returned: it too."""
        response = client.get(
            ENDPOINT[SUPER],
            {"token": world.access},
            secure=True,
            headers={"Authorization": basic("admin", "wrong"), "X-Request-ID": "req-every-line"},
        )
        assert response.status_code == 401
        loggers = {line["logger"] for line in json_lines.lines}
        assert {"identity.request", "django.request", "audit"} <= loggers
        assert {line["request_id"] for line in json_lines.lines} == {"req-every-line"}
        assert {line["tenant"] for line in json_lines.lines} == {SUPER}
        assert client.get("/health/live").status_code == 200  # the next request has its own id
        assert json_lines.lines[-1]["request_id"] != "req-every-line"
        assert json_lines.lines[-1]["tenant"] is None  # the probes belong to no tenant


class TestRequestLine:
    def test_fields_and_no_query(self, client, world, json_lines):
        response = client.get(
            "/t/foo.com" + ENDPOINT[SUPER],
            {"token": world.access},
            secure=True,
            headers={"Authorization": basic("admin@foo.com", "admin"), "X-Request-ID": "req-line"},
        )
        assert response.status_code == 200
        (line,) = [line for line in json_lines.lines if line["logger"] == "identity.request"]
        assert line == {
            "time": line["time"],
            "level": "INFO",
            "logger": "identity.request",
            "message": "GET /t/foo.com/oauth2/introspect 200",
            "request_id": "req-line",
            "tenant": "foo.com",
            "method": "GET",
            "path": "/t/foo.com/oauth2/introspect",
            "status": 200,
            "duration_ms": line["duration_ms"],
        }
        assert line["duration_ms"] > 0
        assert line["time"].endswith("Z")
        for logged in json_lines.lines:
            assert world.access not in json.dumps(logged)


class TestFormatters:
    def test_json_line_keeps_only_known_fields(self):
        """django.request attaches the request, whose repr holds the query string (and a GET
        introspection's token): no attribute outside the known fields reaches a line."""
        record = logging.LogRecord(
            "django.request", logging.WARNING, __file__, 1, "Not Found: %s", ("/x",), None
        )
        record.request = "<WSGIRequest: GET '/oauth2/introspect?token=secret-token-value'>"
        record.status_code = 404
        RequestContextFilter().filter(record)
        line = json.loads(JsonLineFormatter().format(record))
        assert set(line) == {"time", "level", "logger", "message", "request_id", "tenant"}
        assert line["message"] == "Not Found: /x"

    def test_exception_is_kept(self):
        record = failed_record()
        text = JsonLineFormatter().format(record)
        assert "\n" not in text  # the traceback is one field of the one line
        assert "ValueError: boom" in json.loads(text)["exc_info"]

    @pytest.mark.parametrize("stack_info", [False, True])
    def test_text_traceback_stays_on_the_records_line(self, stack_info):
        """Regression: the text format wrote a traceback on lines of its own, after the
        record's: a line-oriented collector took each for a record, and an exception message
        holding a line break wrote a line of its choosing (here, a forged audit line)."""
        record = failed_record(stack_info)
        text = TextFormatter().format(record)
        assert text.count("\n") == 0 and "\r" not in text
        assert text.endswith(r"\n" + FORGED) or stack_info
        assert r"failed\nTraceback (most recent call last):\n" in text
        assert r"ValueError: boom\r\n" + FORGED in text

    def test_text(self):
        record = logging.LogRecord("x.y", logging.INFO, __file__, 1, "hello", (), None)
        RequestContextFilter().filter(record)
        assert TextFormatter().format(record).endswith(" INFO x.y [None] hello")

    def test_text_line_cannot_be_forged(self, client, world):
        """A path (or a name) carrying a line break stays on its own line: ``%0a`` in a path
        would otherwise write a line of the attacker's choosing into a text log."""
        forged = FORGED
        stream = io.StringIO()
        handler = ConsoleHandler(stream)
        handler.setFormatter(TextFormatter())
        handler.addFilter(RequestContextFilter())
        loggers = [logging.getLogger("identity.request"), logging.getLogger("django.request")]
        for logger in loggers:
            logger.addHandler(handler)
        try:
            response = client.get("/t/foo.com/nope%0d%0a" + forged.replace(" ", "%20"))
        finally:
            for logger in loggers:
                logger.removeHandler(handler)
        assert response.status_code == 404
        lines = stream.getvalue().splitlines()
        assert lines and not any(line.startswith(forged) for line in lines)
        assert all(r"\r\n" + forged in line for line in lines)


BASE = '[super_admin]\npassword = "x"\n'
FORGED = "2026-12-03 10:00:00,000 INFO audit [x] admin signed in"  # a text line an attacker would write


def failed_record(stack_info: bool = False) -> logging.LogRecord:
    """A record of an exception whose message holds a line break and a forged line after it."""
    try:
        raise ValueError("boom\r\n" + FORGED)
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    if stack_info:
        record.stack_info = 'Stack (most recent call last):\n  File "x.py", line 1\n' + FORGED
    RequestContextFilter().filter(record)
    return record


class TestLoggingConfig:
    @pytest.mark.parametrize(
        ("toml", "formatter"),
        [
            ("[server]\ndebug = false\n", "json"),
            ("[server]\ndebug = true\n", "text"),
            ('[server]\ndebug = true\n[logging]\nformat = "json"\n', "json"),
            ('[server]\ndebug = false\n[logging]\nformat = "text"\n', "text"),
        ],
    )
    def test_format(self, toml, formatter):
        config = logging_config(loads(BASE + toml))
        assert config["handlers"]["console"]["formatter"] == formatter

    @pytest.mark.parametrize(("level", "toolkit"), [("DEBUG", "INFO"), ("INFO", "INFO"), ("ERROR", "ERROR")])
    def test_level_never_debug_for_the_toolkit(self, level, toolkit):
        """oauthlib's and the toolkit's DEBUG lines carry tokens and secrets."""
        config = logging_config(loads(BASE + f'[logging]\nlevel = "{level}"\n'))
        assert config["root"]["level"] == level
        assert config["loggers"]["oauthlib"]["level"] == toolkit
        assert config["loggers"]["oauth2_provider"]["level"] == toolkit

    @pytest.mark.parametrize(("level", "sql"), [("DEBUG", "INFO"), ("INFO", "INFO"), ("ERROR", "ERROR")])
    def test_level_never_debug_for_sql(self, level, sql):
        """With ``debug = true`` Django writes every SQL statement with its values at DEBUG on
        ``django.db.backends``: password hashes, signing private keys, unredeemed authorization
        codes, session keys. Before, ``level = "DEBUG"`` let them reach the log."""
        config = logging_config(loads(BASE + f'[server]\ndebug = true\n[logging]\nlevel = "{level}"\n'))
        assert config["loggers"]["django.db.backends"]["level"] == sql

    def test_audit_file(self, tmp_path):
        deployment = loads(BASE, path=tmp_path / "deployment.toml")
        handler = logging_config(deployment)["handlers"]["audit"]
        assert handler["filename"] == str(tmp_path / "var" / "log" / "audit.jsonl")
        stderr = logging_config(loads(BASE + '[logging]\naudit_file = "-"\n'))["handlers"]["audit"]
        assert stderr["class"] == "identity.logs.ConsoleHandler"


def test_records_skip_the_fields_no_line_writes(json_lines):
    """The caller's file and line, the thread and the process name cost time on every record and
    no line writes them (the process id stays: gunicorn's lines have it)."""
    records = []
    json_lines.emit = records.append
    logging.getLogger("identity.request").warning("x")
    (record,) = records
    assert (record.pathname, record.lineno) == ("(unknown file)", 0)
    assert record.thread is None and record.processName is None
    assert record.process is not None


@pytest.fixture
def shaped(monkeypatch):
    """A logger shaped as the server's: one handler of ours (with the request filter), alone;
    the clock stopped."""
    monkeypatch.setattr(time, "time", lambda: 1_764_720_000.25)
    logger = logging.getLogger("tests.shaped")
    logger.propagate = False
    stream = io.StringIO()
    handler = ConsoleHandler(stream)
    handler.addFilter(RequestContextFilter())
    logger.addHandler(handler)
    yield logger, handler, stream
    logger.removeHandler(handler)


class TestDirectLines:
    """``identity.logs.info``: on the hot path a line goes straight to the one handler of ours
    that would write it, and reads exactly as the record would have."""

    @pytest.mark.parametrize("formatter", [JsonLineFormatter, TextFormatter, AuditFormatter])
    def test_the_line_is_the_records(self, shaped, formatter):
        logger, handler, stream = shaped
        handler.setFormatter(formatter())
        extra = {"method": "POST", "path": '/t/a"b/x', "status": 200, "audit": {"event": "e", "k": 1}}
        request_id_var.set("rid-1")
        try:
            logger.info("POST /x 200", extra=extra)
            logs.info(logger, "POST /x 200", extra)
        finally:
            request_id_var.set(None)
        through_record, direct = stream.getvalue().splitlines()
        assert direct == through_record
        assert "rid-1" in direct

    def test_no_record_is_made(self, shaped, monkeypatch):
        logger, handler, stream = shaped
        handler.setFormatter(JsonLineFormatter())

        def no_record(*args, **kwargs):
            raise AssertionError("a LogRecord was made")

        monkeypatch.setattr(logger, "makeRecord", no_record)
        logs.info(logger, "hello", {})
        assert json.loads(stream.getvalue())["message"] == "hello"

    @pytest.mark.parametrize("other", ["handler", "filter"])
    def test_through_the_record_when_anything_else_would_see_it(self, shaped, other):
        logger, handler, stream = shaped
        handler.setFormatter(JsonLineFormatter())
        seen = Lines()
        if other == "handler":
            logger.addHandler(seen)
        else:
            logger.addFilter(lambda record: seen.lines.append(record) or True)
        try:
            logs.info(logger, "hello", {"status": 200})
        finally:
            logger.removeHandler(seen)
            logger.filters.clear()
        assert len(seen.lines) == 1
        assert json.loads(stream.getvalue())["status"] == 200

    def test_nothing_below_the_level(self, shaped):
        logger, handler, stream = shaped
        handler.setFormatter(JsonLineFormatter())
        logger.setLevel(logging.WARNING)
        try:
            logs.info(logger, "hello", {})
        finally:
            logger.setLevel(logging.NOTSET)
        assert stream.getvalue() == ""

    @pytest.mark.parametrize(
        "change",
        [
            "a handler on the logger",
            "a filter on the logger",
            "a filter on the handler",
            "the handler above INFO",
            "a formatter without lines",
            "propagating to the root's handlers",
            "the logger above INFO",
            "the logger disabled",
            "logging switched off",
            # Changes that go around the logging API: in place, or by assignment.
            "a handler appended to the list in place",
            "the list of handlers replaced",
            "a filter appended to the handler's list in place",
            "the handler's level assigned",
            "the handler's formatter assigned",
        ],
    )
    def test_the_writer_is_found_again_after_a_change(self, shaped, change):
        """The one handler is remembered while nothing it was found from changes (identity.logs
        Route): each change on the way makes the line go through the record again."""
        logger, handler, _ = shaped
        handler.setFormatter(JsonLineFormatter())
        assert logs.writer_of(logger) is handler
        formatter = handler.formatter
        if change == "a handler on the logger":
            logger.addHandler(Lines())
        elif change == "a filter on the logger":
            logger.addFilter(lambda record: True)
        elif change == "a filter on the handler":
            handler.addFilter(lambda record: True)
        elif change == "the handler above INFO":
            handler.setLevel(logging.WARNING)
        elif change == "a formatter without lines":
            handler.setFormatter(logging.Formatter())
        elif change == "the logger above INFO":
            logger.setLevel(logging.WARNING)
        elif change == "the logger disabled":
            logger.disabled = True
        elif change == "logging switched off":
            logging.disable(logging.INFO)
        elif change == "a handler appended to the list in place":
            logger.handlers.append(Lines())
        elif change == "the list of handlers replaced":
            logger.handlers = [handler, Lines()]
        elif change == "a filter appended to the handler's list in place":
            handler.filters.append(lambda record: True)
        elif change == "the handler's level assigned":
            handler.level = logging.WARNING
        elif change == "the handler's formatter assigned":
            handler.formatter = logging.Formatter()
        else:
            logger.propagate = True  # pytest's capture handlers are the root's
        try:
            assert logs.writer_of(logger) is None
        finally:
            logging.disable(logging.NOTSET)
            logger.setLevel(logging.NOTSET)
            logger.disabled = False
            logger.handlers[1:] = []
            logger.filters.clear()
            handler.filters[1:] = []
            handler.setLevel(logging.NOTSET)
            handler.setFormatter(formatter)
            logger.propagate = False
        assert logs.writer_of(logger) is handler

    def test_an_unchanged_route_is_not_found_again(self, shaped, monkeypatch):
        """While nothing it was found from changes, the writer is remembered (one comparison,
        identity/log_changes.py), and what a handler of ours changes as it writes (its waiting
        lines) is no change of the route."""
        logger, handler, _ = shaped
        handler.setFormatter(JsonLineFormatter())
        assert logs.writer_of(logger) is handler
        walks = []
        monkeypatch.setattr(logs, "_sole_writer", lambda each: walks.append(each) or handler)
        handler.write_line("a line")
        handler.flush()
        assert logs.writer_of(logger) is handler
        assert walks == []
        logger.propagate = False  # assigned, even to the same value: found again
        assert logs.writer_of(logger) is handler
        assert walks == [logger]

    def test_a_watched_object_keeps_its_class_name_and_kind(self, shaped):
        logger, handler, _ = shaped
        logs.writer_of(logger)
        assert type(handler).__name__ == "ConsoleHandler" and isinstance(handler, ConsoleHandler)
        assert type(logger).__name__ == "Logger" and repr(logger).startswith("<Logger tests.shaped (")
        assert logger.handlers == [handler]

    def test_the_level_is_found_again_after_a_logger_comes_between(self):
        """A logger made later between a logger of no level and its ancestor gives it its
        effective level, though no record passes through it (the child does not propagate)."""
        child = logging.getLogger("tests.levels.between.child")
        child.propagate = False
        handler = ConsoleHandler(io.StringIO())
        handler.setFormatter(JsonLineFormatter())
        child.addHandler(handler)
        try:
            assert logs.writer_of(child) is handler
            logging.getLogger("tests.levels.between").setLevel(logging.WARNING)
            assert logs.writer_of(child) is None
        finally:
            child.removeHandler(handler)
            logging.getLogger("tests.levels.between").setLevel(logging.NOTSET)

    def test_the_writer_is_found_again_after_a_logger_comes_between(self, shaped):
        """A logger made later between a logger and the ancestor holding the handler becomes
        its parent: a handler added to it sees the lines."""
        _, handler, _ = shaped
        handler.setFormatter(JsonLineFormatter())
        child = logging.getLogger("tests.shaped.between.child")
        assert logs.writer_of(child) is handler
        between = logging.getLogger("tests.shaped.between")
        between.addHandler(Lines())
        try:
            assert logs.writer_of(child) is None
        finally:
            between.handlers.clear()

    def test_the_servers_handlers_take_the_direct_way(self, tmp_path):
        config = logging_config(loads(BASE, path=tmp_path / "deployment.toml"))
        for name in ("console", "audit"):
            handler_class = import_string(config["handlers"][name]["class"])
            assert issubclass(handler_class, LineWriting)


class TestPreparedLines:
    """``identity.logs.prepare``: a replayed answer's lines, made ahead but for their time,
    request id and duration, read exactly as the lines written the usual way."""

    @pytest.mark.parametrize(
        ("formatter", "extra"),
        [
            (JsonLineFormatter, {"method": "POST", "path": '/t/a"%s/{}', "status": 200, "duration_ms": 0.0}),
            (AuditFormatter, {"audit": {"event": "introspection.decision", "caller": 'a"b%%d{0}'}}),
        ],
    )
    def test_the_prepared_line_is_the_usual_one(self, shaped, monkeypatch, formatter, extra):
        """Even with what formatting would read as its own (``%``, braces) in the values."""
        now = time.time()
        monkeypatch.setattr(logs.time, "time", lambda: now)  # both lines in one millisecond
        logger, handler, stream = shaped
        handler.setFormatter(formatter())
        prepared = logs.prepare(logger, "POST /x 200", extra, "foo.com")
        assert prepared is not None
        request_id_var.set("rid-7")
        tenant_var.set("foo.com")
        try:
            logs.info(logger, "POST /x 200", {**extra, "duration_ms": 1.25} if "method" in extra else extra)
        finally:
            request_id_var.set(None)
            tenant_var.set(None)
        assert prepared.write(now, "rid-7", 1.25)
        usual, made_ahead = stream.getvalue().splitlines()
        assert made_ahead == usual

    def test_the_batch_writes_each_requests_lines_in_turn(self, shaped):
        """``logs.write_prepared`` (the batch thread): requests whose lines differ in layout
        (here, one without a request line) in runs, and each request's lines in turn when one
        handler writes them all (``[logging] audit_file = "-"``): the text of each line, in the
        order the requests were served."""
        logger, handler, stream = shaped
        handler.setFormatter(JsonLineFormatter())
        extra = {"method": "POST", "status": 200, "duration_ms": 0.0}
        request = {each: logs.prepare(logger, each, {**extra, "path": each}, "foo.com") for each in "ab"}
        handler.setFormatter(AuditFormatter())
        audit = {each: logs.prepare(logger, "", {"audit": {"event": each}}, "foo.com") for each in "ab"}
        a, b = (request["a"], audit["a"]), (request["b"], audit["b"])
        lines_of = [a, b, (audit["a"],), a]
        created = [1_764_720_000.25 + number for number in range(4)]
        rids, durations = [f"rid-{number}" for number in range(4)], ["1.5", "0.25", "2.0", "10.125"]
        logs.write_prepared(list(map(logs.layout_of, lines_of)), lines_of, created, rids, durations, 0.0)
        handler.flush()
        assert stream.getvalue() == "".join(
            line.text(when, rid, float(duration)) + "\n"
            for lines, when, rid, duration in zip(lines_of, created, rids, durations, strict=True)
            for line in lines
        )
        assert logs.layout_of(lines_of[0]) is logs.layout_of(lines_of[1])

    def test_durations_read_as_the_usual_lines_write_them(self):
        """The batch thread formats a replay's duration without ``round`` and ``repr``
        (``logs.duration_texts``): the same text, ties and tiny and large durations included."""
        rng = random.Random(7)
        seconds = [0.0, 5e-8, 5e-7, 1e-6, 1.5e-6, 2.5e-6, 1.0005e-3, 0.0125, 0.01, 2.0, 3.14159, 1234.5678]
        seconds += [rng.random() * 10 ** rng.randint(-7, 2) for _ in range(5000)]
        seconds += [rng.randint(0, 10**6) / 10**7 for _ in range(5000)]  # on and about the ties
        assert list(logs.duration_texts(seconds)) == [repr(round(each * 1000, 3)) for each in seconds]

    def test_text_lines_are_not_prepared(self, shaped):
        logger, handler, _ = shaped
        handler.setFormatter(TextFormatter())
        assert logs.prepare(logger, "hello", {}, None) is None

    def test_written_the_usual_way_once_anything_else_would_see_it(self, shaped):
        logger, handler, stream = shaped
        handler.setFormatter(JsonLineFormatter())
        prepared = logs.prepare(logger, "hello", {}, None)
        other = Lines()
        logger.addHandler(other)
        try:
            assert prepared.write(time.time(), "rid-8") is False
        finally:
            logger.removeHandler(other)
        assert stream.getvalue() == ""
