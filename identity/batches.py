"""Work kept in memory and done in batches by one thread of each process: log lines written
together (identity/logs.py) and metric counts added together (identity/metrics.py).

On the hot path, writing a line or adding to a multiprocess counter costs more than the rest of
a replayed answer; keeping them a moment and doing them together costs a list append or a dict
update per request. Each batch says how long its work may wait (``flush_interval``); the thread
does it when due, and every batch also does it at once when it must (a warning, a scrape, the
process exiting).

Work handed over by a replayed answer (introspection/replay.py) waits in a :class:`Deferred`
queue: one append on the request path, its lines formatted and its counts added by the thread.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import traceback
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol


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
            turn = min([batch.flush_interval for batch in batches] + [self.LONGEST_SLEEP])
            time.sleep(turn)
            drain()  # into the batches, which then write what is due
            # Due now: what would have waited longer than its batch's interval by the next turn
            # (else a line could wait two turns: one short of its interval, then a whole one).
            due = time.monotonic() + turn
            for batch in batches:
                batch.flush_if_due(due)

    def _forked(self) -> None:
        for queue in _queues:
            queue.items.clear()
        for batch in self.batches:
            batch.forget_waiting()
        self.thread = None


flusher = Flusher()


class Deferred:
    """Items the request path hands over with one call (no formatting, no lock), passed to
    ``work(values, since)`` by :func:`drain`: by the batch thread at each turn, and by whatever
    must see them done first (a log handler before it takes or writes a line, so that lines
    stay in order; a scrape, before it reads the counts; the process exiting). ``since`` is the
    ``time.monotonic()`` of the first of them, so that their batches are written as though
    they had waited there.

    An item is the values one :meth:`append` is given (as many for every item of a queue: its
    ``work`` reads them so), kept in the queue as they are: ``values`` holds those of every
    item taken, in turn. Not a tuple an item: a tuple holding an object the
    garbage collector tracks is tracked too, and one that waits for the thread (a turn) outlives
    the collector's young generations; thousands a second reach its oldest one, whose full
    collections (the whole heap, a pass every few of their number) then cost a replayed request
    more than the rest of its observability (docs/operations.md#cost). Values alone add nothing
    for it to track."""

    def __init__(self, work: Callable[[list[Any], float], None]) -> None:
        self.items: deque[Any] = deque()
        self.since = 0.0
        self.work = work
        _queues.append(self)

    def append(self, *values: Any) -> None:
        """Hand over one item, its values (one ``extend``: atomic under the GIL)."""
        if not self.items:  # the first of a batch
            self.since = time.monotonic()
            flusher.ensure_running()
        self.items.extend(values)

    def drain(self) -> None:
        # What one drain takes ends at a mark it appends, and is taken in one call of C code,
        # which no other thread, signal handler or finalizer interrupts (nor an append: each is
        # one extend): whole items, in order, with no lock. Each drain takes up to the first
        # mark and removes it, whichever drain appended it; what is appended after waits for
        # the next drain.
        if not self.items:
            return
        since = self.since
        self.items.append(_END)
        values = list(iter(self.items.popleft, _END))
        if not values:
            return
        try:
            self.work(values, since)
        except Exception:  # as logging.Handler.handleError: never raise into a request's line
            print("--- Error in the work of a batch: its items are lost ---", file=sys.stderr)
            traceback.print_exc(file=sys.stderr)


# Ends what one drain takes (compared by identity: a queue's values are never it, and none
# defines __eq__ in Python, which would run Python code in the middle of a take).
_END = object()
_queues: list[Deferred] = []


def drain() -> None:
    """Do the work every :class:`Deferred` queue holds (nothing to do: a length check each)."""
    for queue in _queues:
        if queue.items:
            queue.drain()
