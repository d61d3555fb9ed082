"""Work kept in memory and done in batches by one thread of each process: log lines written
together (identity/logs.py) and metric counts added together (identity/metrics.py).

On the hot path, writing a line or adding to a multiprocess counter costs more than the rest of
a replayed answer; keeping them a moment and doing them together costs a list append or a dict
update per request. Each batch says how long its work may wait (``flush_interval``); the thread
does it when due, and every batch also does it at once when it must (a warning, a scrape, the
process exiting).
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from typing import Protocol


class Batch(Protocol):
    flush_interval: float  # seconds the first waiting item may wait

    def flush_if_due(self, now: float) -> None:
        """Do the waiting work when the first item has waited ``flush_interval`` (``time.monotonic()``)."""

    def forget_waiting(self) -> None:
        """In a child process just forked: what waits is the parent's to do."""


class Flusher:
    """The thread of a process that does its batches' waiting work (started by the first item
    kept waiting, anew in each forked worker: threads do not survive a fork)."""

    LONGEST_SLEEP = 1.0  # seconds: a batch added later is looked at within this

    def __init__(self) -> None:
        self.batches: weakref.WeakSet[Batch] = weakref.WeakSet()  # type: ignore[type-var]
        self.thread: threading.Thread | None = None
        os.register_at_fork(after_in_child=self._forked)

    def watch(self, batch: Batch) -> None:
        self.batches.add(batch)

    def ensure_running(self) -> None:
        if self.thread is None:
            self.thread = threading.Thread(target=self._run, name="batch-flusher", daemon=True)
            self.thread.start()

    def _run(self) -> None:
        while True:
            batches = list(self.batches)
            time.sleep(min([batch.flush_interval for batch in batches] + [self.LONGEST_SLEEP]))
            now = time.monotonic()
            for batch in batches:
                batch.flush_if_due(now)

    def _forked(self) -> None:
        for batch in self.batches:
            batch.forget_waiting()
        self.thread = None


flusher = Flusher()
