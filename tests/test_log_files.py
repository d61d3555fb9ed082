"""The audit file (identity/logs.py AuditFileHandler): owner-only, and after logrotate moves it,
lines go to a new file, which is owner-only too."""

from __future__ import annotations

import logging
import os
import stat

from identity.logs import AuditFileHandler, AuditFormatter


def write(handler: AuditFileHandler, event: str) -> None:
    record = logging.LogRecord("audit", logging.INFO, "", 0, event, (), None)
    record.audit = {"event": event}
    handler.handle(record)


def test_a_moved_file_is_followed_by_a_new_one(tmp_path):
    path = tmp_path / "log" / "audit.jsonl"
    handler = AuditFileHandler(str(path))
    handler.setFormatter(AuditFormatter())
    try:
        write(handler, "before")
        path.rename(tmp_path / "audit.jsonl.1")  # what logrotate does
        handler._watched_at -= handler.WATCH_EVERY  # a second later
        write(handler, "after")
    finally:
        handler.close()
    assert '"event":"before"' in (tmp_path / "audit.jsonl.1").read_text()
    assert '"event":"after"' in path.read_text()
    assert "before" not in path.read_text()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700


def test_the_file_is_looked_at_once_a_second(tmp_path):
    """Within the second, lines still go to the open file: no stat per line on the hot path."""
    path = tmp_path / "audit.jsonl"
    handler = AuditFileHandler(str(path))
    handler.setFormatter(AuditFormatter())
    try:
        path.rename(tmp_path / "moved")
        write(handler, "same-second")
    finally:
        handler.close()
    assert "same-second" in (tmp_path / "moved").read_text()
    assert not path.exists()
