"""Answer a repeated introspection before Django, from the answer Django gave it last time.

An introspection answer is a function of the request and of rows the process keeps in its
cache (``tenants.cache``): the path's tenant, the caller verified from its credential, the
token's state, its client, user and tenant. When Django answers a request with JSON and every
row it read came through the cache, this WSGI layer keeps the whole answer (status, headers,
body, and the decision it audited) under a keyed digest of everything in the request the
answer can depend on, tagged with the tags of every entry read. The same request again is
answered from memory: no request object, no middleware, no query, no hash. Any change to one
of those rows drops the answer with the entries (the change bus, docs/architecture.md), and it
never outlives the earliest expiry among them (a token's ``exp``). Nor is it replayed while
throttling blocks its caller's address, or its identity from that address: the request goes on
to the layers behind, which refuse it as they refuse any (docs/security.md).

Never kept: errors (401, 403, 400, 429, ...), a token the database does not hold (it may be
issued a moment later), JWT responses (RFC 9701: each has its own ``iat``), answers changed by
introspection scripts (their code may read anything), and answers whose reads raced a change.

A replayed answer is still a request of its own: it gets its own request id, request line,
audit event and metrics, written by the same functions as Django's path.

A request not seen yet, about another token, from a caller Django let through with a request of
the same shape, is answered from that caller's pass (``introspection/first_sight.py``), kept
here beside each answer Django gives.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from django.db import DatabaseError, InterfaceError
from django.http import HttpRequest

from deployment.current import get_deployment
from identity import logs, metrics, request_id, throttle
from introspection import audit as decision
from introspection import first_sight
from introspection.authentication import Caller
from tenants import changes
from tenants.cache import MISSING, Reads, cache, keyed_digest, reading
from tenants.models import Tenant

logger = logging.getLogger(__name__)

PATH_END = "/oauth2/introspect"
# Larger bodies go to Django, whose limits answer them ([server] max_body_bytes, which may be
# smaller still); a token and its hint are far smaller.
MAX_BODY = 4096
# Every part of the request an answer may depend on, besides the body: the method, path and
# query (tenant, appTenant), the credential, content negotiation (JSON or JWT), and what the
# issuer and the security headers are made of (host, scheme, the proxy's forwarded headers
# and the address that decides whether they are trusted).
INPUTS = (
    "REQUEST_METHOD",
    "SCRIPT_NAME",
    "PATH_INFO",
    "QUERY_STRING",
    "CONTENT_TYPE",
    "HTTP_AUTHORIZATION",
    "HTTP_ACCEPT",
    "HTTP_HOST",
    "wsgi.url_scheme",
    "REMOTE_ADDR",
    "HTTP_X_FORWARDED_FOR",
    "HTTP_X_FORWARDED_HOST",
    "HTTP_X_FORWARDED_PROTO",
)
# The environ key of a miss (PEP 3333 lets a layer add keys with a dotted prefix).
_PENDING = "identity.replay"
# PEP 3333's shapes.
Environ = dict[str, Any]
Headers = list[tuple[str, str]]
StartResponse = Callable[..., Any]
Application = Callable[[Environ, StartResponse], Iterable[bytes]]


@dataclass(frozen=True)
class Answer:
    status: str
    headers: Headers
    body: bytes
    endpoint: str  # the metrics label of the endpoint
    decision: decision.Decision  # the audit fields (introspection/audit.py)
    tenant: str | None  # the path's tenant, for the log lines
    # The throttling blocks that refuse it (identity.throttle.block_keys): its caller's address
    # and identity, found over their limits since, are refused as Django's path refuses them.
    blocks: tuple[tuple[str, str], ...] = ()
    # The request's path: its request line and audit event are made ahead, at its first replay
    # (None: they are written the usual way each time).
    path: str | None = None

    @cached_property
    def samples(self) -> tuple[tuple[Any, ...], Any]:
        """The counters and the duration histogram that serving it moves (made once)."""
        outcome = str(self.decision["outcome"])
        return metrics.request_samples(self.endpoint, "POST", int(self.status[:3]), outcome)

    # Made at the first replay, not when the answer is kept: an answer may never be replayed,
    # and making both lines cost about 33 µs, some 3% of a first sight (docs/performance.md).
    @cached_property
    def request_line(self) -> logs.PreparedLine | None:
        """Its request line made ahead (identity/logs.py prepare), when it can be."""
        if self.path is None:
            return None
        return request_id.prepare_line("POST", self.path, int(self.status[:3]), self.tenant)

    @cached_property
    def audit_line(self) -> logs.PreparedLine | None:
        """Its audit event made ahead, when it can be."""
        return None if self.path is None else decision.prepare(self.decision)

    @cached_property
    def replayed(self) -> request_id.Replayed | None:
        """Its lines made ahead and its samples, handed to the batch thread at each replay."""
        if self.request_line is None or self.audit_line is None:
            return None
        return request_id.Replayed((self.request_line, self.audit_line), self.samples)


@dataclass
class _Pending:
    """A request this layer could not answer: what the view reports, to keep its answer."""

    key: bytes
    generation: int
    endpoint: str = ""
    decision: decision.Decision | None = None
    blocks: tuple[tuple[str, str], ...] = ()
    passed: first_sight.Pass | None = None


def keep(
    request: HttpRequest,
    *,
    endpoint: str,
    decision_fields: decision.Decision,
    blocks: tuple[tuple[str, str], ...],
    caller: Caller,
    path_tenant: Tenant,
    origin: str,
) -> None:
    """Called by the view for an answer that may be replayed (JSON, no script, a token that
    exists): it is kept once Django's response is complete, and never replayed while one of
    ``blocks`` holds (``introspection.throttling.caller_blocks``). What the view found of
    ``caller`` answers its requests about other tokens (``introspection/first_sight.py``)."""
    pending = request.META.get(_PENDING)  # Django's META is the WSGI environ
    if pending is not None:
        pending.endpoint, pending.decision, pending.blocks = endpoint, decision_fields, blocks
        pending.passed = first_sight.Pass(caller, path_tenant, origin, None)


kept = first_sight.KeptConnection()  # the process's (a worker serves one request at a time)


class AnswerReplay:
    """The WSGI application in front of Django's (``identity/wsgi.py``)."""

    def __init__(self, application: Application):
        self.application = application

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if not is_introspection(environ):
            return self.application(environ, start_response)
        body = read_body(environ)
        if body is None:
            return self.application(environ, start_response)
        # The key: everything the answer depends on; the configuration too, as tests swap it.
        inputs = [str(id(get_deployment())), *(key_input(environ, name) for name in INPUTS)]
        key = keyed_digest(body, *inputs)
        changes.poll()  # on SQLite, hear the other processes first (Django's path: request_started)
        answer = cache.lookup("answer", key)
        if answer is MISSING:
            return self._first_sight(environ, start_response, key, body, inputs)
        if throttle.any_blocked(answer.blocks):  # refused behind, by the throttle layer or Django
            return self.application(environ, start_response)
        return serve(environ, start_response, answer)

    def _first_sight(
        self, environ: Environ, start_response: StartResponse, key: bytes, body: bytes, inputs: list[str]
    ) -> Iterable[bytes]:
        """Answer a request not seen yet from its caller's pass (``introspection/first_sight.py``)
        when there is one that may serve it, else through Django; keep the answer. ``inputs``:
        the key's parts but the body (the pass's key is their digest)."""
        shape = keyed_digest(*inputs)
        generation = cache.generation
        decided = None
        with reading() as reads:  # the pass's entry and the token's: what the answer is made of
            passed = cache.lookup("pass", shape)
            asked = (
                None
                if passed is MISSING
                or throttle.any_blocked(passed.answer.blocks)
                or not passed.caller_cached()
                else first_sight.token_of(environ, body)
            )
            if asked is not None:
                kept.take()
                try:
                    decided = first_sight.decide(passed, *asked)
                except (DatabaseError, InterfaceError):
                    pass  # Django answers it (an outage: 503, docs/security.md)
                except Exception:
                    # A bug: Django's path answers it, right or as its JSON 500, never the WSGI
                    # server's HTML page. The request (its form holds the token) is not logged.
                    logger.exception("first sight failed; Django answers the request")
                finally:
                    kept.keep(failed=decided is None)
        if decided is None:
            return self._answer_and_keep(environ, start_response, key, shape, body)
        template = passed.answer
        headers = [
            (name, str(len(decided.body)) if name.lower() == "content-length" else value)
            for name, value in template.headers
        ]
        answer = dataclasses.replace(template, headers=headers, body=decided.body, decision=decided.decision)
        if decided.known:
            cache.put(("answer", key), answer, reads.tags, reads.expires - time.monotonic(), generation)
        # Its lines are written the usual way: made ahead, they would cost a first sight 33 µs.
        return serve(environ, start_response, dataclasses.replace(answer, path=None))

    def _answer_and_keep(
        self, environ: Environ, start_response: StartResponse, key: bytes, shape: bytes, body: bytes
    ) -> Iterable[bytes]:
        pending = environ[_PENDING] = _Pending(key, cache.generation)

        def replayable(status: str) -> bool:
            return pending.decision is not None and status.startswith("200 ")

        response, captured = capture(self.application, environ, start_response, replayable)
        if captured is not None and pending.decision is not None:
            tenant = request_id.path_tenant(environ["PATH_INFO"])
            answer = Answer(
                *captured.answer, pending.endpoint, pending.decision, tenant, pending.blocks, _path(environ)
            )
            tags, lifetime = captured.reads.tags, captured.reads.expires - time.monotonic()
            cache.put(("answer", key), answer, tags, lifetime, pending.generation)
            if pending.passed is not None and first_sight.token_of(environ, body) is not None:
                passed = dataclasses.replace(pending.passed, answer=answer)
                cache.put(("pass", shape), passed, tags, lifetime, pending.generation)
        return response


@dataclass(frozen=True)
class Captured:
    answer: tuple[str, Headers, bytes]  # status, headers but the request id, body
    reads: Reads  # what the answer was computed from (tenants.cache.reading)


def capture(
    application: Application, environ: Environ, start_response: StartResponse, wanted: Callable[[str], bool]
) -> tuple[Iterable[bytes], Captured | None]:
    """Let ``application`` answer; return its answer to send, and, when ``wanted(status)`` once it
    has answered and it sets no cookie, what a layer may keep of it."""
    started: list[Any] = []

    def remember(status: str, headers: Headers, exc_info: Any = None) -> Any:
        started[:] = [status, headers]
        return start_response(status, headers, exc_info)

    with reading() as reads:
        response = application(environ, remember)
    if not started or not wanted(started[0]):
        return response, None
    try:
        body = b"".join(response)
    finally:
        if hasattr(response, "close"):
            response.close()
    status, headers = started
    kept = [(name, value) for name, value in headers if name.lower() != request_id.HEADER.lower()]
    if any(name.lower() == "set-cookie" for name, _ in kept):
        return [body], None
    return [body], Captured((status, kept, body), reads)


def is_introspection(environ: Environ) -> bool:
    """Whether the request is a POST to an introspection endpoint (the only ones answered here)."""
    return environ.get("REQUEST_METHOD") == "POST" and environ.get("PATH_INFO", "").endswith(PATH_END)


def read_body(environ: Environ) -> bytes | None:
    """Return the request's body, left readable again for the next layer; None when it has no
    ``Content-Length`` or is larger than ``MAX_BODY`` or ``[server] max_body_bytes`` (Django
    answers it: 413)."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or -1)
    except ValueError:
        length = -1
    if not 0 <= length <= min(MAX_BODY, get_deployment().server.max_body_bytes):
        return None
    body: bytes = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def serve(
    environ: Environ,
    start_response: StartResponse,
    answer: Answer,
    prepare: Callable[[], Answer] | None = None,
) -> Iterable[bytes]:
    """Send ``answer`` as a request of its own: its request id, audit decision, request line
    and metrics, written by the same functions as Django's path. ``prepare()``, called once
    the request id is bound (its audit lines carry it), may return the answer to send instead.
    """
    started = time.perf_counter()
    observed = get_deployment().observability.enabled
    if observed and prepare is None and (replayed := answer.replayed) is not None and replayed.deferrable():
        # Its lines and counts are done by the batch thread: nothing is logged while it is
        # served, so the id needs no binding (docs/operations.md#cost).
        rid = request_id.request_id_for(environ.get("HTTP_X_REQUEST_ID"))
        start_response(answer.status, [*answer.headers, (request_id.HEADER, rid)])
        replayed.record(rid, started)
        return [answer.body]
    if observed:
        rid = request_id.request_id_for(environ.get("HTTP_X_REQUEST_ID"))
        request_id.bind(rid, answer.tenant)
    try:
        if prepare is not None:
            answer = prepare()
        headers = [*answer.headers, (request_id.HEADER, rid)] if observed else answer.headers
        start_response(answer.status, headers)
        if observed:
            duration = time.perf_counter() - started
            decision.write(answer.decision, answer.audit_line)
            status = int(answer.status[:3])
            request_id.write_line("POST", _path(environ), status, duration, answer.request_line)
            metrics.observe_request(*answer.samples, duration)
    finally:
        if observed:
            request_id.unbind_request(None)
    return [answer.body]


def key_input(environ: Environ, name: str) -> str:
    """The part of a key for input ``name``: its value, told apart from its absence (Django
    answers an empty ``Host`` 400, and a request without one from the server's name)."""
    value = environ.get(name)
    return "" if value is None else f"={value}"


def _path(environ: Environ) -> str:
    """The request's path, as Django's ``request.path`` (never its query)."""
    return str(environ.get("SCRIPT_NAME", "")) + str(environ["PATH_INFO"])
