"""Give every request an id, and write its log line and its metrics (docs/operations.md).

The id is the caller's ``X-Request-ID`` when it is well-formed (1 to 128 characters of
``A-Z a-z 0-9 . _ -``), else a new random one (32 hex digits); it is echoed in the response and
carried by every log line and audit event written while the request is served. It is set when
Django signals ``request_started`` and cleared on ``request_finished``: Django's own lines about
the response (``django.request``'s "Not Found: ...") are written after the middleware has
returned.
"""

from __future__ import annotations

import logging
import operator
import os
import random
import re
import time
from itertools import chain, compress, repeat
from operator import attrgetter
from typing import Any

from django.core.signals import request_finished, request_started
from django.dispatch import receiver

from deployment.current import get_deployment
from identity import batches, logs, metrics
from tenants.middleware import UNTENANTED_PATHS
from tenants.resolver import split_tenant_path

HEADER = "X-Request-ID"
WELL_FORMED = re.compile(r"[A-Za-z0-9._-]{1,128}")
UNMATCHED = "unmatched"  # the endpoint label of a request no URL pattern matched

logger = logging.getLogger("identity.request")


# New ids need to be unique, not secret (nothing is authorized by one): 128 bits of a generator
# of this process's own, seeded from os.urandom when it is made and anew in each forked worker,
# which costs less than reading 16 bytes from the kernel per request. Not a counter: a caller
# would read from the ids how many requests the server answered between two of its own.
_ids = random.Random()  # noqa: S311 (see above)
os.register_at_fork(after_in_child=_ids.seed)
_bits = _ids.getrandbits  # (randbytes is this and to_bytes, in Python code)


def request_id_for(header: str | None) -> str:
    """Return ``header`` when it is a well-formed request id, else a new one."""
    if header and WELL_FORMED.fullmatch(header):
        return header
    return _bits(128).to_bytes(16, "little").hex()


def endpoint_of(request) -> str:
    """Return the bounded name of the endpoint that served ``request``: its URL pattern's name
    (with its namespace), else its route, else ``unmatched``; never the raw path."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return UNMATCHED
    return match.view_name or match.route or UNMATCHED


@receiver(request_started)
def bind_request(sender, environ: dict, **kwargs) -> None:
    """Set the request id and the path's tenant for every line logged while serving it."""
    if get_deployment().observability.enabled:
        bind(request_id_for(environ.get("HTTP_X_REQUEST_ID")), path_tenant(environ.get("PATH_INFO", "")))


def bind(rid: str, tenant: str | None) -> None:
    """Set the request id and tenant of the lines logged from now on (until :func:`unbind_request`)."""
    logs.request_id.set(rid)
    logs.tenant.set(tenant)


def path_tenant(path: str) -> str | None:
    """Return the domain of the tenant ``path`` is under (None for health probes and metrics,
    which belong to no tenant)."""
    if path in UNTENANTED_PATHS:
        return None
    return (split_tenant_path(path).domain or get_deployment().tenant.super_tenant_domain)[:253]


@receiver(request_finished)
def unbind_request(sender, **kwargs) -> None:
    logs.request_id.set(None)
    logs.tenant.set(None)


class RequestIdMiddleware:
    """Set the request id and tenant for the request's log lines; after the response, echo the
    id, write the request line (path without its query) and count the request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        rid = logs.request_id.get()
        if rid is None:  # served without Django's request_started (a bare handler in a test)
            rid = request_id_for(request.headers.get(HEADER))
            logs.request_id.set(rid)
        response = self.get_response(request)
        response[HEADER] = rid
        # request.path: the query string (a GET introspection's token) is never part of it.
        finished(request.method, request.path, response.status_code, endpoint_of(request), started)
        return response


def finished(method: str, path: str, status: int, endpoint: str, started: float) -> None:
    """Write the request line of a request served since ``started`` (``time.perf_counter()``)
    and count it (``path`` without its query)."""
    duration = time.perf_counter() - started
    write_line(method, path, status, duration)
    requests = metrics.labelled(metrics.REQUESTS, endpoint, method, str(status))
    metrics.observe_request((requests,), metrics.labelled(metrics.REQUEST_DURATION, endpoint), duration)


def write_line(
    method: str, path: str, status: int, duration: float, prepared: logs.PreparedLine | None = None
) -> None:
    """Write the request line of a request that took ``duration`` seconds. ``prepared``: that
    line made ahead by :func:`prepare_line`, for a replayed answer."""
    duration_ms = round(duration * 1000, 3)
    if prepared is None or not prepared.write(time.time(), logs.request_id.get() or "", duration_ms):
        logs.info(logger, *_line(method, path, status, duration_ms))


def prepare_line(method: str, path: str, status: int, tenant: str | None) -> logs.PreparedLine | None:
    """Return the request line of a request to ``path`` under ``tenant``, made ahead of time."""
    return logs.prepare(logger, *_line(method, path, status, 0.0), tenant)


def _line(method: str, path: str, status: int, duration_ms: float) -> tuple[str, dict]:
    """The message and fields of a request line."""
    fields = {"method": method, "path": path, "status": status, "duration_ms": duration_ms}
    return f"{method} {path} {status}", fields


class Replayed:
    """What a replayed answer (introspection/replay.py) writes and counts at each replay, made
    once: its lines made ahead (:func:`identity.logs.prepare`) and the counter children and
    histogram child it moves (:func:`identity.metrics.request_samples`).

    A replay hands them over in one tuple (:meth:`record`); the batch thread formats the lines
    and adds the counts (identity/batches.py :class:`~identity.batches.Deferred`), before any
    other line of the process is written and before a scrape reads the counts."""

    def __init__(self, lines: tuple[logs.PreparedLine, ...], samples: tuple[tuple[Any, ...], Any]):
        self.lines = lines
        self.layout = logs.layout_of(lines)
        self.counted, self.timed = samples
        self.route = logs.route(tuple(line.logger for line in lines))
        self.writers = tuple(line.handler for line in lines)
        self.batched = all(line.handler.flush_interval > 0 for line in lines)

    def deferrable(self) -> bool:
        """Whether each line still goes to its handler alone at INFO, a handler that writes in
        batches: checked at each request (one :class:`~identity.logs.Route` check for all),
        so that a handler or filter added since (an operator's, a test's capture) sees the
        request's lines through the usual way."""
        return self.batched and self.route.writers() == self.writers

    def record(self, rid: str, started: float) -> None:
        """Hand over the lines and samples of a request served since ``started``
        (``time.perf_counter()``) under the id ``rid``."""
        _replays.append(self, time.time(), rid, time.perf_counter() - started)


def _write_replayed(values: list, since: float) -> None:
    """Write the lines and add the samples of replayed requests (on the batch thread), each
    handed over as four values (:meth:`Replayed.record`), taken column by column: their
    durations formatted, their lines written, their counters counted and their durations
    bucketed by C code (``map``, ``zip``, ``Counter``): no Python step a request."""
    replayed, created, rids, durations = (values[column::4] for column in range(4))
    layouts, lines = list(map(attrgetter("layout"), replayed)), list(map(attrgetter("lines"), replayed))
    logs.write_prepared(layouts, lines, created, rids, list(logs.duration_texts(durations)), since)
    timed = tuple(map(attrgetter("timed"), replayed))
    observed = {
        child: list(compress(durations, map(operator.is_, repeat(child), timed))) for child in set(timed)
    }
    metrics.tally.add(chain.from_iterable(map(attrgetter("counted"), replayed)), observed, since)
    metrics.observe_db_pool()  # at most once a second (the pool is the process's, not a thread's)


_replays = batches.Deferred(_write_replayed)
