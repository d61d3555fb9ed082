"""The one in-process cache of the server (docs/architecture.md, "One cache, one change bus").

Everything a process reads often lives here: tenants, verified callers, clients, users and
their permissions, signing keys, and the state of introspected tokens. Each entry carries
*tags* naming the rows it was built from (``("u", 42)`` for user 42, ``("t", 3)`` for tenant
3, ...). When a row changes, the change bus (``tenants.changes``) names its tags in every
process, and exactly the entries built from it are dropped.

Three rules keep it honest:

- **Bounded**: at most ``[cache] max_entries`` entries, least recently used out first; no
  entry lives longer than ``[cache] max_age`` seconds, nor past the expiry its loader gives
  (a token leaves at its ``exp``).
- **No stale write-back**: a value loaded while an invalidation arrived is returned but not
  kept, so a read that raced a change cannot put the old state back.
- **Trusted only while it can hear**: while the change bus cannot hear other processes
  (its listener is disconnected), every lookup misses and nothing is kept.

Beside the entries it *pins* what no row change can shorten and what must not be forgotten
early: a throttling block (``identity/throttle.py``). A pin lasts until its own end, past
``max_age``; other entries never push it out, nor does the change bus drop it (see
:meth:`Cache.pin`).

A computation built only from cached entries can be cached itself: :func:`reading` records the
tags and the earliest expiry of every entry it reads, and what it computed is kept under those
tags (introspection answers, ``introspection/replay.py``).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import threading
import time
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Hashable, Iterable, Iterator
from contextvars import ContextVar
from typing import Any, TypeVar, cast

from deployment.current import get_deployment

Tag = tuple[Hashable, ...]
V = TypeVar("V")
# A tag every entry carries: naming it drops everything (a bulk change too large to name).
EVERYTHING: Tag = ("*",)

# What ``Cache.get`` returns for a key it does not hold (None may be a cached value).
MISSING = object()


class Reads:
    """What one computation read from the cache: the tags of every entry, and the earliest
    moment one of them expires (``time.monotonic()``)."""

    __slots__ = ("expires", "tags")

    def __init__(self) -> None:
        self.tags: set[Tag] = set()
        self.expires = float("inf")

    def add(self, tags: Iterable[Tag], expires: float) -> None:
        self.tags.update(tags)
        self.expires = min(self.expires, expires)


_reads: ContextVar[Reads | None] = ContextVar("cache_reads", default=None)


@contextlib.contextmanager
def reading() -> Iterator[Reads]:
    """Record what the cache serves, or loads, inside the ``with`` block; an enclosing block
    records it too (each WSGI layer in front of Django keeps its own answers)."""
    outer = _reads.get()
    reads = Reads()
    token = _reads.set(reads)
    try:
        yield reads
    finally:
        _reads.reset(token)
        if outer is not None:
            outer.add(reads.tags, reads.expires)


class NotCached(Exception):
    """Raised instead of loading a value inside :func:`cached_only`."""


_cached_only: ContextVar[bool] = ContextVar("cache_only", default=False)


@contextlib.contextmanager
def cached_only() -> Iterator[None]:
    """Inside the ``with`` block, a value the cache does not hold raises :class:`NotCached`
    instead of being loaded: what runs there costs no query (``introspection/throttle_gate.py``)."""
    token = _cached_only.set(True)
    try:
        yield
    finally:
        _cached_only.reset(token)


# The key of the digests below: per process, in memory only, so a cache key reveals nothing
# about the secret it stands for, even to someone reading a memory dump offline without it.
_DIGEST_KEY = os.urandom(32)


def keyed_digest(*parts: str | bytes) -> bytes:
    """A fast keyed digest (HMAC-SHA256) of ``parts``: the cache key of a presented secret."""
    message = b"\0".join(
        part if isinstance(part, bytes) else part.encode("utf-8", "surrogatepass") for part in parts
    )
    return hmac.new(_DIGEST_KEY, message, hashlib.sha256).digest()


class _Entry:
    __slots__ = ("expires", "tags", "value")

    def __init__(self, value: Any, expires: float, tags: frozenset[Tag]):
        self.value, self.expires, self.tags = value, expires, tags


class Cache:
    """A bounded LRU map from keys to values, each value tagged with the rows it came from."""

    def __init__(self) -> None:
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._by_tag: dict[Tag, set[Hashable]] = {}
        self._pins: dict[Hashable, float] = {}  # key: when it ends (time.time())
        self._lock = threading.Lock()
        # Bumped by every invalidation: a load that saw it move must not be kept.
        self.generation = 0
        # Set by the change bus: False while this process cannot hear changes.
        self.trusted: Callable[[], bool] = lambda: True
        # How many lookups of each kind found a value, and how many missed, since the process
        # started: counted here, an integer each (a lookup is on every request's path), and
        # read by the metrics when they are written (identity.metrics.observe_cache_and_bus).
        self.hits: defaultdict[str, int] = defaultdict(int)
        self.misses: defaultdict[str, int] = defaultdict(int)

    def get(self, key: Hashable) -> Any:
        """Return the cached value of ``key``, or ``MISSING``."""
        entry = self._entries.get(key)
        if entry is None or not self.trusted():
            return MISSING
        if entry.expires <= time.monotonic():
            with self._lock:
                self._remove(key)
            return MISSING
        try:
            self._entries.move_to_end(key)
        except KeyError:  # dropped by another thread meanwhile
            return MISSING
        reads = _reads.get()
        if reads is not None:
            reads.add(entry.tags, entry.expires)
        return entry.value

    def lookup(self, kind: str, key: Hashable) -> Any:
        """Return the value of ``(kind, key)``, or ``MISSING``; counted as a hit or a miss."""
        value = self.get((kind, key))
        if value is MISSING:
            self.misses[kind] += 1
        else:
            self.hits[kind] += 1
        return value

    def get_or_load(
        self,
        kind: str,
        key: Hashable,
        load: Callable[[], Any],
        tags: Callable[[Any], Iterable[Tag]],
        expires_in: Callable[[Any], float | None] | None = None,
    ) -> Any:
        """Return the value of ``(kind, key)``, calling ``load()`` on a miss and keeping its result.

        ``tags(value)`` names the rows the value was built from; ``expires_in(value)`` (seconds,
        or None for ``max_age``) bounds its life further. A value of None is kept too (an
        unknown tenant); loaders raise rather than return None for what must not be kept.
        """
        full_key = (kind, key)
        value = self.lookup(kind, key)
        if value is not MISSING:
            return value
        if _cached_only.get():
            raise NotCached(kind)
        generation = self.generation
        value = load()
        lifetime = expires_in(value) if expires_in is not None else None
        self.put(full_key, value, tags(value), lifetime, generation)
        return value

    def put(
        self,
        key: Hashable,
        value: Any,
        tags: Iterable[Tag],
        lifetime: float | None = None,
        generation: int | None = None,
    ) -> None:
        """Keep ``value`` under ``key`` unless an invalidation came since ``generation``."""
        config = get_deployment().cache
        lifetime = config.max_age if lifetime is None else min(lifetime, config.max_age)
        entry = _Entry(value, time.monotonic() + lifetime, frozenset(tags) | {EVERYTHING})
        reads = _reads.get()
        if reads is not None:  # what was loaded is read too, kept or not
            reads.add(entry.tags, entry.expires)
        if lifetime <= 0 or not self.trusted():
            return
        with self._lock:
            if generation is not None and generation != self.generation:
                return
            self._remove(key)
            self._entries[key] = entry
            for tag in entry.tags:
                self._by_tag.setdefault(tag, set()).add(key)
            while len(self._entries) > config.max_entries:
                self._remove(next(iter(self._entries)))

    def pin(self, key: Hashable, until: float) -> None:
        """Hold ``key`` until ``until`` (``time.time()``), past ``max_age`` and whatever else is
        kept: at most ``max_entries`` pins, those ending soonest out first. Only its end and
        :meth:`clear` drop it (no row change can shorten it, so the change bus never does)."""
        limit = get_deployment().cache.max_entries
        with self._lock:
            self._pins[key] = until
            if len(self._pins) > limit:
                now = time.time()
                for ended in [other for other, end in self._pins.items() if end <= now]:
                    del self._pins[ended]
                while len(self._pins) > limit:
                    del self._pins[min(self._pins, key=self._pins.__getitem__)]

    def pinned(self, key: Hashable) -> float | None:
        """Return when ``key``'s pin ends (``time.time()``), or None (one dictionary read)."""
        until = self._pins.get(key)
        if until is None or until > time.time():
            return until
        self._pins.pop(key, None)
        return None

    def invalidate(self, tags: Iterable[Tag]) -> int:
        """Drop every entry carrying one of ``tags``; return how many went."""
        dropped = 0
        with self._lock:
            self.generation += 1
            for tag in tags:
                for key in self._by_tag.pop(tuple(tag), ()):
                    dropped += self._remove(key)
        return dropped

    def clear(self, *, pins: bool = True) -> None:
        """Drop everything, as a new process starts (between tests); the change bus, which may
        have missed changes (on (re)connecting), keeps the pins (``pins=False``)."""
        with self._lock:
            self.generation += 1
            self._entries.clear()
            self._by_tag.clear()
            if pins:
                self._pins.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def _remove(self, key: Hashable) -> int:
        entry = self._entries.pop(key, None)
        if entry is None:
            return 0
        for tag in entry.tags:
            keys = self._by_tag.get(tag)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_tag[tag]
        return 1


cache = Cache()


def cached(
    kind: str,
    key: Hashable,
    load: Callable[[], V],
    tags: Callable[[V], Iterable[Tag]],
    expires_in: Callable[[V], float | None] | None = None,
) -> V:
    """Return ``load()``'s value for ``(kind, key)`` from the process's cache (see ``Cache.get_or_load``)."""
    return cast(V, cache.get_or_load(kind, key, load, tags, expires_in))
