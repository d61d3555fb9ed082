"""The change bus: every write that could change an answer names what it changed, in every
process of every server instance (docs/architecture.md, "One cache, one change bus").

A change is a list of *tags* (``("u", 42)``: user 42; ``("t", 3)``: tenant 3; see
``tenants.announce``). :func:`announce` drops the tagged entries of this process's cache at
once and again when the transaction commits, and publishes the tags to the other processes:

- **PostgreSQL**: ``pg_notify`` on one channel inside the writing transaction, so PostgreSQL
  delivers it exactly when the write commits (and never if it rolls back). Each server
  process holds one listening connection in a thread (:class:`Listener`). While that
  connection is down the cache is not trusted (every lookup misses); on (re)connecting it
  drops everything, since it may have missed changes. The listener needs a session
  connection: it must bypass a PgBouncer in transaction-pooling mode.
- **SQLite** (one host): the tags are appended to a journal file beside the database when the
  transaction commits; every server process reads what is new in it before each request
  (:func:`poll`, one ``stat`` when nothing changed). A journal that was replaced (it is
  started afresh when it grows large) drops everything.

Payloads stay far below PostgreSQL's 8,000-byte limit: a change naming too many rows names
their owners instead (all tokens of a user), then their tenants, then everything.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from django.core.signals import request_started
from django.db import connection, transaction

from tenants.cache import EVERYTHING, Tag, cache

logger = logging.getLogger(__name__)

CHANNEL = "identity_changes"
# The listener's application_name in pg_stat_activity.
LISTENER_NAME = "identity-change-listener"
# Far below PostgreSQL's 8,000-byte NOTIFY limit.
MAX_PAYLOAD = 4000
JOURNAL_MAX_BYTES = 1 << 20


def announce(tags: Iterable[Tag]) -> None:
    """Name ``tags`` as changed: here now and at commit, and to every other process at commit."""
    tags = [tuple(tag) for tag in tags]
    if not tags:
        return
    cache.invalidate(tags)
    payload = encode(tags)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, %s)", [CHANNEL, payload])
    transaction.on_commit(lambda: _committed(tags, payload))


def _committed(tags: list[Tag], payload: str) -> None:
    # A read in this process that raced the write may have kept the old state: drop it again.
    cache.invalidate(tags)
    journal = _journal_path()
    if journal is not None:
        _append(journal, payload)


def encode(tags: list[Tag]) -> str:
    """Return the bus payload naming ``tags``, coarsened to fit (see the module docstring), and
    when it was announced (wall-clock seconds, for the lag metric)."""
    at = round(time.time(), 6)
    payload = json.dumps({"at": at, "tags": tags}, separators=(",", ":"))
    if len(payload) <= MAX_PAYLOAD:
        return payload
    tenants = sorted({tag for tag in tags if tag[0] == "t"})
    if tenants and len(json.dumps(tenants)) <= MAX_PAYLOAD - 100:
        logger.info("change of %d rows announced as their %d tenants", len(tags), len(tenants))
        return json.dumps({"at": at, "tags": tenants}, separators=(",", ":"))
    return json.dumps({"at": at, "tags": [EVERYTHING]})


def decode(payload: str) -> list[Tag]:
    """Return the tags of a bus payload; an unreadable one names everything."""
    try:
        return [tuple(tag) for tag in json.loads(payload)["tags"]]
    except (ValueError, TypeError, KeyError):
        logger.warning("unreadable change-bus payload; dropping the whole cache")
        return [EVERYTHING]


def _apply(payload: str) -> None:
    """Drop what a payload from another process names, and report how late it came."""
    cache.invalidate(decode(payload))
    if observer.on_applied is not None:
        with contextlib.suppress(ValueError, TypeError, KeyError):
            observer.on_applied(max(0.0, time.time() - json.loads(payload)["at"]))


class _Observer:
    """Where the metrics module plugs in: ``on_applied(lag seconds)``, ``on_reconnect()``."""

    on_applied = None
    on_reconnect = None


observer = _Observer()


# --- SQLite: the journal file ---------------------------------------------------------------


def _journal_path() -> Path | None:
    """The journal beside the SQLite database file; None for PostgreSQL or an in-memory database."""
    if connection.vendor != "sqlite":
        return None
    name = str(connection.settings_dict.get("NAME") or "")
    if not name or name == ":memory:" or name.startswith("file:"):
        return None
    return Path(name + "-changes")


def _append(journal: Path, payload: str) -> None:
    line = (payload + "\n").encode()
    # O_APPEND writes of one short line land whole, so concurrent writers need no lock.
    fd = os.open(journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
        size = os.fstat(fd).st_size
    finally:
        os.close(fd)
    if size > JOURNAL_MAX_BYTES:
        # Start afresh: readers see a new file (another inode) and drop everything once.
        fresh = journal.with_name(journal.name + ".new")
        fresh.write_bytes(b"")
        os.chmod(fresh, 0o600)
        os.replace(fresh, journal)


class _JournalReader:
    """Where this process is in the journal: its inode and offset."""

    def __init__(self) -> None:
        self.inode: int | None = None
        self.offset = 0
        self.lock = threading.Lock()

    def poll(self, journal: Path) -> None:
        try:
            stat = journal.stat()
        except FileNotFoundError:
            return
        if stat.st_ino == self.inode and stat.st_size == self.offset:
            return
        with self.lock:
            if stat.st_ino != self.inode:
                if self.inode is not None:
                    cache.clear(pins=False)
                self.inode, self.offset = stat.st_ino, 0
            with open(journal, "rb") as file:
                file.seek(self.offset)
                data = file.read()
            complete = data[: data.rfind(b"\n") + 1]
            self.offset += len(complete)
            for line in complete.splitlines():
                _apply(line.decode())


_reader = _JournalReader()


def poll() -> None:
    """Apply what other processes announced since the last call (SQLite's journal; a no-op otherwise)."""
    journal = _journal_path()
    if journal is not None:
        _reader.poll(journal)


def start_journal() -> None:
    """Start reading the journal from its end: this process's cache is empty anyway."""
    journal = _journal_path()
    if journal is None:
        return
    journal.touch(mode=0o600, exist_ok=True)
    stat = journal.stat()
    _reader.inode, _reader.offset = stat.st_ino, stat.st_size


# --- PostgreSQL: the listener thread ---------------------------------------------------------


class Listener(threading.Thread):
    """Hold a LISTEN connection and drop the cache entries each notification names."""

    BACKOFF = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0)

    def __init__(self, conninfo: dict):
        super().__init__(name="change-bus-listener", daemon=True)
        self.conninfo = conninfo
        self.connected = threading.Event()
        self.tried = threading.Event()  # set once the first connection attempt has ended
        self.stopping = threading.Event()
        self.reconnects = 0
        self.failures = 0  # connections lost or refused

    def run(self) -> None:
        failures = 0
        while not self.stopping.is_set():
            try:
                self._listen()
                failures = 0
            except Exception as exc:  # any failure: reconnect, never die
                self.failures += 1
                if self.connected.is_set():
                    logger.warning("change bus: listener lost its connection (%s); cache not trusted", exc)
                self.connected.clear()
                self.tried.set()
                delay = self.BACKOFF[min(failures, len(self.BACKOFF) - 1)]
                failures += 1
                self.stopping.wait(delay)

    def _listen(self) -> None:
        import psycopg

        params = {"connect_timeout": 5, **self.conninfo, "application_name": LISTENER_NAME}
        with psycopg.connect(**params, autocommit=True) as conn:
            conn.execute(f"LISTEN {CHANNEL}")
            # Changes made while we were not listening are unknown: start from nothing (but
            # the pins, which no change shortens).
            cache.clear(pins=False)
            self.reconnects += 1
            if self.reconnects > 1:
                logger.info("change bus: listener reconnected; cache dropped")
                if observer.on_reconnect is not None:
                    observer.on_reconnect()
            self.connected.set()
            self.tried.set()
            while not self.stopping.is_set():
                for notify in conn.notifies(timeout=1.0):
                    _apply(notify.payload)
                # A dead server socket shows on the next statement: check every second.
                conn.execute("SELECT 1")

    def stop(self) -> None:
        self.stopping.set()


_listener: Listener | None = None


def start() -> None:
    """Start hearing other processes' changes (a server process calls this once, at start)."""
    global _listener
    if connection.vendor == "postgresql":
        if _listener is None or not _listener.is_alive():
            _listener = Listener(_conninfo())
            cache.trusted = _listener.connected.is_set
            _listener.start()
            # Serve from the database until the first connection is up; wait a moment for it,
            # but not once it has failed (a refused database: retries go on in the background).
            _listener.tried.wait(5)
    else:
        start_journal()
        request_started.connect(_poll_before_request, dispatch_uid="change-bus-poll")


def _poll_before_request(**kwargs) -> None:
    poll()


def listener_connected() -> bool | None:
    """Whether this process hears other processes' changes now; None when it has no listener."""
    if _listener is None:
        return None
    return _listener.connected.is_set()


def listener_failures() -> int:
    """How many times this process's listener lost (or could not open) its connection: a
    database restart shows here first (identity/postgresql checks pooled connections then)."""
    return 0 if _listener is None else _listener.failures


def _conninfo() -> dict:
    """The listener's connection parameters: the default database's, without the pool."""
    params = dict(connection.get_connection_params())
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params.pop("prepare_threshold", None)
    return {key: value for key, value in params.items() if value not in (None, "")}
