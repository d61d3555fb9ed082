"""The log files (identity/logs.py): the audit file is owner-only, and after logrotate moves it,
lines go to a new file, which is owner-only too; lines are written in batches
(``[logging] flush_interval``), never lost when the process exits, never written twice after a
fork."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from identity import batches
from identity.logs import AuditFileHandler, AuditFormatter
from tests.support.polling import wait_for


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


@pytest.fixture
def batched(tmp_path):
    """Make an audit file handler keeping lines ``interval`` seconds; closed after the test."""
    handlers = []

    def make(interval: float) -> tuple[AuditFileHandler, Path]:
        path = tmp_path / f"audit-{len(handlers)}.jsonl"
        handler = AuditFileHandler(str(path), flush_interval=interval)
        handler.setFormatter(AuditFormatter())
        handlers.append(handler)
        return handler, path

    yield make
    for handler in handlers:
        handler.close()


class TestBatches:
    def test_lines_wait_then_are_written_together_in_order(self, batched):
        handler, path = batched(60)
        write(handler, "first")
        write(handler, "second")
        assert path.read_text() == ""
        handler.flush()
        events = [line.split('"event":')[1] for line in path.read_text().splitlines()]
        assert events == ['"first"}', '"second"}']

    def test_the_thread_writes_them_within_the_interval(self, batched):
        handler, path = batched(0.05)
        write(handler, "waiting")
        assert wait_for(lambda: "waiting" in path.read_text(), 2)

    def test_a_turn_writes_what_would_outwait_its_interval_before_the_next(self, batched, monkeypatch):
        """A line that waited a little less than its interval at a turn is written then, not a
        whole turn later: a line waits at most its interval, not two turns."""
        handler, path = batched(0.5)
        write(handler, "almost due")
        handler._waiting_since -= 0.4  # it has waited 0.4 s of its 0.5
        flusher = batches.Flusher()
        flusher.watch(handler)

        class OneTurn(Exception):
            pass

        def sleep(seconds):
            if sleep.slept:
                raise OneTurn
            sleep.slept = seconds

        sleep.slept = 0.0
        monkeypatch.setattr(batches.time, "sleep", sleep)
        with pytest.raises(OneTurn):
            flusher._run()
        assert sleep.slept == 0.5  # a turn is the shortest interval
        assert "almost due" in path.read_text()

    def test_a_warning_is_written_at_once_after_what_waits(self, batched):
        handler, path = batched(60)
        write(handler, "before")
        handler.handle(logging.LogRecord("audit", logging.WARNING, "", 0, "alarm", (), None))
        before, alarm = path.read_text().splitlines()
        assert '"before"' in before and '"alarm"' in alarm

    def test_a_full_batch_is_written_at_once(self, batched):
        handler, path = batched(60)
        for _ in range(handler.MAX_WAITING // 40):
            write(handler, "x" * 40)
        assert path.read_text()

    @pytest.mark.parametrize("interval", [0, 60])
    def test_nothing_is_lost_when_the_process_exits(self, tmp_path, interval):
        path = tmp_path / "audit.jsonl"
        code = (
            "import logging; from identity.logs import AuditFileHandler, AuditFormatter; "
            f"handler = AuditFileHandler({str(path)!r}, flush_interval={interval}); "
            "handler.setFormatter(AuditFormatter()); logger = logging.getLogger('audit'); "
            "logger.addHandler(handler); logger.setLevel(logging.INFO); logger.info('last words')"
        )
        subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
        assert "last words" in path.read_text()

    def test_lines_handed_over_are_written_when_the_process_exits(self, tmp_path):
        """A replayed answer's lines wait in a queue (identity.batches.Deferred) until the batch
        thread formats them: the last ones are written at exit (``logging.shutdown`` flushes)."""
        path = tmp_path / "audit.jsonl"
        code = (
            "import logging; from identity import batches; from identity.logs import AuditFileHandler; "
            f"handler = AuditFileHandler({str(path)!r}, flush_interval=60); "
            "logging.getLogger('audit').addHandler(handler); "
            "queue = batches.Deferred(lambda items, since: handler.add_text(''.join(items), since)); "
            "queue.append('handed over\\n')"
        )
        subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
        assert path.read_text() == "handed over\n"

    def test_drains_at_once_take_whole_items_each_once(self, monkeypatch):
        """An item is several values in the queue (``Deferred.append``): threads appending and
        draining at once, switching as often as Python lets them, never split one, lose one or
        take one twice, and what one drain takes is in the order it was appended."""
        taken: list[list] = []
        queue = batches.Deferred(lambda values, since: taken.append(values))
        monkeypatch.setattr(batches, "_queues", [queue])  # only this queue is drained here
        switch = sys.getswitchinterval()
        sys.setswitchinterval(1e-6)

        def work(writer: int) -> None:
            for number in range(5000):
                queue.append(writer, number, -number)
                if number % 3 == 0:
                    queue.drain()

        try:
            threads = [threading.Thread(target=work, args=(writer,)) for writer in range(4)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        finally:
            sys.setswitchinterval(switch)
        queue.drain()
        every = []
        for values in taken:
            assert len(values) % 3 == 0
            items = [tuple(values[at : at + 3]) for at in range(0, len(values), 3)]
            assert all(number == -negative for _, number, negative in items)
            for writer in range(4):
                numbers = [number for each, number, _ in items if each == writer]
                assert numbers == sorted(numbers)
            every += items
        assert sorted(every) == sorted(
            (writer, number, -number) for writer in range(4) for number in range(5000)
        )

    def test_a_failing_batch_raises_into_no_line(self, batched, capsys):
        """What drains the queue may be a request writing its own line: a batch whose work
        fails is reported on stderr (as logging reports a handler's failure) and dropped."""
        handler, path = batched(60)

        def fail(items, since):
            raise ValueError("boom")

        batches.Deferred(fail).append("lost")
        write(handler, "the-request's-own")
        handler.flush()
        assert "the-request's-own" in path.read_text()
        assert "ValueError: boom" in capsys.readouterr().err

    def test_a_forked_child_leaves_what_was_handed_over_to_the_parent(self, batched):
        handler, path = batched(60)
        queue = batches.Deferred(lambda items, since: handler.add_text("".join(items), since))
        queue.append("the-parents\n")
        child = os.fork()
        if child == 0:
            handler.flush()
            os._exit(0)
        os.waitpid(child, 0)
        assert path.read_text() == ""
        handler.flush()
        assert path.read_text() == "the-parents\n"

    def test_a_forked_child_leaves_the_parents_lines_to_the_parent(self, batched):
        handler, path = batched(60)
        write(handler, "the-parents")
        child = os.fork()
        if child == 0:  # the child writes what it holds (nothing), then exits at once
            handler.flush()
            os._exit(0)
        os.waitpid(child, 0)
        assert path.read_text() == ""
        handler.flush()
        assert path.read_text().count("the-parents") == 1
