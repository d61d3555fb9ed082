"""The Prometheus metrics of the server, and the ``GET /metrics`` view (docs/operations.md).

Under gunicorn every worker writes its samples to files in ``PROMETHEUS_MULTIPROC_DIR`` (set by
``identity.server`` before the workers fork) and the scrape merges them; in a single process
(tests, ``runserver``) the default registry answers. Labels are bounded: an endpoint is the URL
pattern's name, never the raw path, and no label holds a tenant or a client id.
"""

from __future__ import annotations

import atexit
import bisect
import collections
import ipaddress
import os
import threading
import time
from collections.abc import Callable, Iterable
from itertools import repeat
from typing import Any

from django.db import connection
from django.http import HttpResponse, JsonResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from deployment.current import get_deployment
from identity import batches
from identity.addresses import client_address

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

REQUESTS = Counter(
    "identity_http_requests_total",
    "HTTP requests answered, by endpoint (URL pattern name), method and status.",
    ["endpoint", "method", "status"],
)
REQUEST_DURATION = Histogram(
    "identity_http_request_duration_seconds",
    "Time to answer an HTTP request, by endpoint (URL pattern name).",
    ["endpoint"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
INTROSPECTIONS = Counter(
    "identity_introspections_total",
    "Introspection decisions, by outcome: active, inactive, or the error status (400, 401, 403, 405, 429).",
    ["outcome"],
)
DB_POOL = Gauge(
    "identity_db_pool_connections",
    "PostgreSQL connection pool of the workers: state is size, available or waiting (requests).",
    ["state"],
    multiprocess_mode="livesum",
)
THROTTLED = Counter(
    "identity_throttled_requests_total",
    "Requests refused with 429 because of failed authentications, by the limit that refused them "
    "(per_address, per_identity, lock_identity).",
    ["limit"],
)
CACHE_LOOKUPS = Counter(
    "identity_cache_lookups_total",
    "Lookups in the in-process cache, by kind of entry and result (hit, miss).",
    ["kind", "result"],
)
CHANGE_BUS_LAG = Histogram(
    "identity_change_bus_lag_seconds",
    "Time from a change's commit to its announcement being applied by a process.",
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
CHANGE_BUS_RECONNECTS = Counter(
    "identity_change_bus_reconnects_total",
    "Times a process's change listener reconnected to the change bus.",
)


_children: dict = {}


def labelled(metric, *values: str):
    """Return ``metric.labels(*values)``, kept: the label sets are bounded by design (no
    tenant, no client), and prometheus_client's ``labels()`` costs a lock and a check a call."""
    key = (metric, values)
    child = _children.get(key)
    if child is None:
        child = _children[key] = metric.labels(*values)
    return child


class Tally:
    """Counter increments and histogram observations of this process, added to their metrics
    together: by the batch thread (identity/batches.py) within ``flush_interval`` seconds, before
    this process answers a scrape, and when it exits. An observation then costs a dict update
    instead of locked writes to the multiprocess file, and a count (:func:`count`) or a
    replayed answer's samples one append to a queue that the thread empties here; a scrape sees
    the other workers' latest samples at most that late."""

    # Seconds: a scrape adds its own process's counts first, so this bounds only how late it sees
    # the other workers'. Longer than [logging] flush_interval (0.5 s by default), so that the
    # batch thread's turns are the lines' (each turn's fixed work costs a replayed request more
    # than its counts: docs/operations.md#cost).
    flush_interval = 1.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict = {}  # counter child -> increments not added yet
        self._observed: dict = {}  # histogram child -> _Observations not added yet
        self._since = 0.0  # time.monotonic() of the first of them
        self._totals: list[Callable[[], dict]] = []  # see count_totals
        self._reported: dict = {}  # (counter, label values) -> the part of its total added already
        batches.flusher.watch(self)
        atexit.register(self.flush)

    def record(self, counted: tuple = (), timed=None, amount: float = 0.0) -> None:
        """Add one to each counter child of ``counted`` and, when ``timed`` (a histogram child)
        is given, observe ``amount`` in it: a request's samples under one lock."""
        with self._lock:
            self._starting(None)
            counts = self._counts
            for child in counted:
                counts[child] = counts.get(child, 0) + 1
            if timed is not None:
                self._observations(timed).add(amount)

    def add(self, counted: Iterable, observed: dict[Any, list[float]], since: float) -> None:
        """Add one to a counter child for each time ``counted`` names it, and observe each of
        ``observed``'s amounts in its histogram child; taken since ``since``. What the batch
        thread adds for many requests at once: counted and bucketed by C code
        (``collections.Counter``), not one request at a time."""
        with self._lock:
            self._starting(since)
            counts = self._counts
            for child, increments in collections.Counter(counted).items():
                counts[child] = counts.get(child, 0) + increments
            for timed, amounts in observed.items():
                self._observations(timed).add_many(amounts)

    def count_totals(self, totals: Callable[[], dict]) -> None:
        """Add to counters, whenever the samples are added, what ``totals()`` (a
        ``{(counter, label values): count since the process started}``) moved since: counts
        that their owner keeps as plain integers, for less than a call and a hand-over each
        (the cache's lookups, several on every request's path). Counted from now on."""
        with self._lock:
            if totals not in self._totals:
                self._totals.append(totals)
                self._reported.update(totals())

    def _moved(self) -> dict:
        """What the totals moved since they were last added (the caller holds the lock)."""
        moved = {}
        for totals in self._totals:
            for key, total in totals().items():
                increment = total - self._reported.get(key, 0)
                if increment:
                    moved[key] = increment
                    self._reported[key] = total
        return moved

    def _starting(self, since: float | None) -> None:
        """Note when the samples waiting began (the caller holds the lock)."""
        if not self._counts and not self._observed:  # the first sample of a batch
            self._since = time.monotonic() if since is None else since
            batches.flusher.ensure_running()
        elif since is not None and since < self._since:
            self._since = since

    def _observations(self, timed) -> _Observations:
        observations = self._observed.get(timed)
        if observations is None:
            observations = self._observed[timed] = _Observations(timed)
        return observations

    def flush(self) -> None:
        batches.drain()  # the counts handed over (count(), replayed answers) not added yet
        with self._lock:
            counts, self._counts = self._counts, {}
            observed, self._observed = self._observed, {}
            moved = self._moved()
        for child, increments in counts.items():
            child.inc(increments)
        for (metric, values), increment in moved.items():
            labelled(metric, *values).inc(increment)
        for observations in observed.values():
            observations.add_to_histogram()

    def flush_if_due(self, now: float) -> None:
        if (self._counts or self._observed) and now - self._since >= self.flush_interval:
            self.flush()

    def forget_waiting(self) -> None:
        self._counts, self._observed = {}, {}
        # The totals so far are the parent's to add. No lock is taken (nor a metric's, in
        # labels()): another thread of the parent may have held it at the fork.
        for totals in self._totals:
            self._reported.update(totals())


class _Observations:
    """Observations of one histogram child, kept as its buckets keep them.

    prometheus_client (0.26) has no public way to add many observations at once: this class
    alone reads a child's ``_upper_bounds`` and adds to its ``_sum`` and ``_buckets`` as
    ``Histogram.observe`` does (each observation to the first bucket whose bound is not below
    it), and tests/test_health_metrics.py checks that the samples equal observe()'s.
    """

    def __init__(self, child) -> None:
        self.child = child
        self.bounds = child._upper_bounds
        self.total = 0.0
        self.counts = [0] * len(self.bounds)

    def add(self, amount: float) -> None:
        self.total += amount
        self.counts[bisect.bisect_left(self.bounds, amount)] += 1

    def add_many(self, amounts: list[float]) -> None:
        self.total += sum(amounts)
        buckets = collections.Counter(map(bisect.bisect_left, repeat(self.bounds), amounts))
        for bucket, count in buckets.items():
            self.counts[bucket] += count

    def add_to_histogram(self) -> None:
        self.child._sum.inc(self.total)
        for bucket, count in zip(self.child._buckets, self.counts, strict=True):
            if count:
                bucket.inc(count)


tally = Tally()


def count(metric, *values: str) -> None:
    """Add one to the counter ``metric`` of labels ``values``: handed to the batch thread with one
    append (no lock: a cache lookup is counted on every request), added by :class:`Tally`."""
    _counts.append(labelled(metric, *values))


def _add_counts(children: list, since: float) -> None:
    tally.add(children, {}, since)


_counts = batches.Deferred(_add_counts)


def observe_request(counted: tuple, timed, duration: float) -> None:
    """Count a served request in the counter children ``counted`` and observe its ``duration``
    (seconds) in the histogram child ``timed``, under one lock; read the pool now and then."""
    tally.record(counted, timed, duration)
    observe_db_pool()


def request_samples(endpoint: str, method: str, status: int, outcome: str) -> tuple[tuple, Any]:
    """The counter children that an introspection request of this ``endpoint``, ``method``,
    ``status`` and decision ``outcome`` moves, and its duration's histogram child: made ahead
    for a replayed answer, which passes them to :func:`observe_request`."""
    counted = (labelled(REQUESTS, endpoint, method, str(status)), labelled(INTROSPECTIONS, outcome))
    return counted, labelled(REQUEST_DURATION, endpoint)


def observe_cache_and_bus() -> None:
    """Count the cache's lookups and the change bus's lag and reconnects (tenants.cache/changes)."""
    from tenants import changes

    tally.count_totals(_cache_lookups)
    changes.observer.on_applied = CHANGE_BUS_LAG.observe
    changes.observer.on_reconnect = CHANGE_BUS_RECONNECTS.inc


def _cache_lookups() -> dict:
    """The cache's lookups so far, by counter and labels (tenants.cache ``Cache.hits``/``misses``)."""
    from tenants.cache import cache

    # dict() copies each in one call of C code: a lookup counted meanwhile is not torn.
    hits, misses = dict(cache.hits), dict(cache.misses)
    totals = {(CACHE_LOOKUPS, (kind, "hit")): count for kind, count in hits.items()}
    totals.update(((CACHE_LOOKUPS, (kind, "miss")), count) for kind, count in misses.items())
    return totals


POOL_EVERY = 1.0  # seconds between two readings of the pool by one process
_pool_read_at = [0.0]  # when this process last read its pool (a time, no row)


def observe_db_pool(*, fresh: bool = False) -> None:
    """Record the state of this process's PostgreSQL pool, at most once a second unless
    ``fresh`` (nothing on SQLite, which has none)."""
    now = time.monotonic()
    if not fresh and now - _pool_read_at[0] < POOL_EVERY:
        return
    _pool_read_at[0] = now
    pool = getattr(connection, "pool", None)
    if pool is None:
        return
    stats = pool.get_stats()
    DB_POOL.labels("size").set(stats.get("pool_size", 0))
    DB_POOL.labels("available").set(stats.get("pool_available", 0))
    DB_POOL.labels("waiting").set(stats.get("requests_waiting", 0))


def client_allowed(address: str, networks: tuple[str, ...]) -> bool:
    """Return whether ``address`` is in one of ``networks`` (``[observability] metrics_allowed``)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(network, strict=False) for network in networks)


def exposition() -> bytes:
    """Return every metric in the Prometheus text format, merged across workers when under gunicorn."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def metrics_view(request) -> HttpResponse:
    """Serve the metrics to the addresses of ``[observability] metrics_allowed``; 403 to others."""
    config = get_deployment().observability
    if not config.enabled:
        return JsonResponse(
            {"error": "not_found", "error_description": "metrics are off ([observability] enabled)"},
            status=404,
        )
    # Behind a trusted proxy, the client it names: the proxy's own address admits no one.
    if not client_allowed(client_address(request.META), config.metrics_allowed):
        return JsonResponse(
            {"error": "access_denied", "error_description": "not in [observability] metrics_allowed"},
            status=403,
        )
    observe_db_pool(fresh=True)  # this worker's reading is fresh in the answer
    tally.flush()  # and its counts
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
