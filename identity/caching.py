"""A small process-local cache whose entries expire, bounded in size (least recently set out)."""

from __future__ import annotations

import random
import threading
import time
from collections import OrderedDict
from typing import Any


class ExpiringCache:
    def __init__(self, ttl: float, size: int = 10_000, jitter: float = 0.0):
        # With ``jitter``, an entry lives a random (1 - jitter .. 1) part of its time to live,
        # so entries set together by several server processes do not all expire together.
        self.ttl, self.size, self.jitter = ttl, size, jitter
        self._items: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Any | None:
        item = self._items.get(key)
        if item is None:
            return None
        if item[0] <= time.monotonic():
            self._items.pop(key, None)
            return None
        return item[1]

    def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        lifetime = self.ttl if ttl is None else min(ttl, self.ttl)
        if self.jitter:
            lifetime *= random.uniform(1 - self.jitter, 1)  # noqa: S311 (spreading expiries, not a secret)
        expires = time.monotonic() + lifetime
        with self._lock:
            self._items[key] = (expires, value)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
