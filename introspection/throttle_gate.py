"""Refuse a blocked address's introspection requests before Django (RFC 6585 §4, docs/security.md).

Once a process has found an address over ``[throttle] per_address``, ``identity.throttle``
refuses it from memory until its window ends; a flood from it would still cost each refused
request a whole pass through Django (request object, middleware, form parsing, tenant and
access-control matching). This WSGI layer, behind the replay layer (``introspection/replay.py``)
and in front of Django, answers those refusals itself.

It answers only what Django answered before: when Django refuses a request with a 429 and the
address is blocked once it has (its first refusal blocks it), the view's answer (:func:`keep`)
is kept for that address and for everything else in
the request its answer depends on besides the credential and the form (the path and so the
tenant and the access-control entry, the host, the scheme and the proxy headers), tagged with
the cache entries it read and no longer than the block. A later request of that shape whose form
the request-limits middleware would let through (``identity.middleware.read_form``), with any
credential (parsed into identities by :func:`introspection.throttling.claimed_identities`; a
cached caller's is refused too, as in Django's path) is refused from the kept answer:
its ``Retry-After`` computed from the block's end as Django's path computes it, a request id of
its own, and the same audit events, metrics and request line, written by the same functions.

Everything else goes to Django as before: no credential, a malformed or multipart request, a
path or host never refused yet, a tenant the cache does not hold yet, throttling or
``[observability]`` off. No query, no password hash, no Django request on the refusal's path.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable
from dataclasses import dataclass

from django.http import HttpRequest

from deployment.current import get_deployment
from identity import request_id, throttle
from identity.addresses import client_address
from identity.middleware import read_form
from introspection import audit as decision
from introspection import authentication, replay
from introspection.errors import AuthenticationFailed
from introspection.replay import Answer, Environ, StartResponse
from introspection.throttling import claimed_identities
from tenants import changes
from tenants.cache import MISSING, NotCached, cache, cached_only
from tenants.errors import ApiError
from tenants.models import Tenant

# What Django's refusal of a blocked address depends on besides the address, the credential and
# the form: the path (its tenant, and the access-control entry that names the accepted handlers
# and may ask for TLS), the host Django validates, and the scheme and proxy headers that decide
# whether the request is secure (the security headers, ``secure = true`` entries).
SHAPE = (
    "SCRIPT_NAME",
    "PATH_INFO",
    "HTTP_HOST",
    "SERVER_NAME",
    "SERVER_PORT",
    "wsgi.url_scheme",
    "REMOTE_ADDR",
    "HTTP_X_FORWARDED_HOST",
    "HTTP_X_FORWARDED_PROTO",
)
# The environ key of a request Django answers while its address is blocked.
_PENDING = "identity.throttle_gate"


@dataclass(frozen=True)
class Refusal:
    """Django's 429 for a blocked address, and what refusing the next request needs."""

    answer: Answer  # the status, headers (its Retry-After replaced), body, audit decision
    handlers: tuple[str, ...]  # the caller-authentication handlers the path accepts
    path_tenant: Tenant  # a client caller's tenant when it names no appTenant
    path: str  # the request's path as Django read it (the audit event's ``path``)


@dataclass
class _Pending:
    """A request Django answers while its address is blocked: what the view reports of its 429."""

    generation: int
    endpoint: str = ""
    decision: decision.Decision | None = None
    handlers: tuple[str, ...] = ()
    path_tenant: Tenant | None = None
    path: str = ""


def keep(
    request: HttpRequest,
    *,
    endpoint: str,
    decision_fields: decision.Decision,
    handlers: tuple[str, ...],
    path_tenant: Tenant,
) -> None:
    """Called by the view when it refuses a request with ``Throttled``: the answer is kept once
    Django's response is complete, if the address is blocked then."""
    pending = request.META.get(_PENDING)  # Django's META is the WSGI environ
    if pending is not None:
        pending.endpoint, pending.decision, pending.handlers = endpoint, decision_fields, handlers
        pending.path_tenant, pending.path = path_tenant, request.path


class ThrottleGate:
    """The WSGI layer between the replay layer and Django's application (``identity/wsgi.py``)."""

    def __init__(self, application: replay.Application):
        self.application = application

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        deployment = get_deployment()
        header = environ.get("HTTP_AUTHORIZATION", "")
        if not (
            header
            and replay.is_introspection(environ)
            and deployment.throttle.enabled
            and deployment.observability.enabled
        ):
            return self.application(environ, start_response)
        address = client_address(environ)
        seconds = throttle.blocked_for(address)
        if seconds is None:
            return self._answer_and_keep(environ, start_response, address)
        changes.poll()  # on SQLite, hear the other processes first (Django's path: request_started)
        found = cache.lookup("refusal", _shape(environ, address))
        if found is MISSING:
            return self._answer_and_keep(environ, start_response, address)
        refusal: Refusal = found
        identities = _identities(environ, header, refusal, deployment.server.max_form_fields)
        if identities is None:
            return self.application(environ, start_response)

        def refuse() -> Answer:
            # The identity's own block too, as Django's path counts it (its window may end later).
            waits = {"per_address": seconds, **throttle.known_waits(address, identities)}
            refused = throttle.refusal(refusal.path, address, identities, waits)
            fresh = {name.lower(): value for name, value in refused.headers.items()}  # Retry-After
            headers = [(name, fresh.get(name.lower(), value)) for name, value in refusal.answer.headers]
            return dataclasses.replace(refusal.answer, headers=headers)

        return replay.serve(environ, start_response, refusal.answer, refuse)

    def _answer_and_keep(
        self, environ: Environ, start_response: StartResponse, address: str
    ) -> Iterable[bytes]:
        """Let Django answer; keep its answer if it refuses the request and finds the address blocked."""
        pending = environ[_PENDING] = _Pending(cache.generation)
        key = _shape(environ, address)

        def refused(status: str) -> bool:
            return pending.decision is not None and status.startswith("429 ")

        response, captured = replay.capture(self.application, environ, start_response, refused)
        seconds = throttle.blocked_for(address)
        if captured is None or pending.decision is None or pending.path_tenant is None or seconds is None:
            return response
        tenant = request_id.path_tenant(environ["PATH_INFO"])
        answer = Answer(*captured.answer, pending.endpoint, pending.decision, tenant)
        refusal = Refusal(answer, pending.handlers, pending.path_tenant, pending.path)
        lifetime = min(seconds, captured.reads.expires - time.monotonic())
        cache.put(("refusal", key), refusal, captured.reads.tags, lifetime, pending.generation)
        return response


def _shape(environ: Environ, address: str) -> tuple[object, ...]:
    """The key of Django's refusal of ``address`` for a request like this one; the configuration
    is part of it (it names the handlers, and tests swap it)."""
    return (id(get_deployment()), address, *(replay.key_input(environ, name) for name in SHAPE))


def _identities(environ: Environ, header: str, refusal: Refusal, max_fields: int) -> list[str] | None:
    """Return the identities the request's credential claims (a cached caller's too), or None
    when Django must answer: a body this layer does not read, a form Django refuses, a
    tenant the cache does not hold yet."""
    body = replay.read_body(environ)
    if body is None:
        return None
    try:
        query_string, content_type = environ.get("QUERY_STRING", ""), environ.get("CONTENT_TYPE", "")
        form = read_form(query_string, content_type, body or None, max_fields)
    except ApiError:
        return None
    if form is None:  # multipart: Django parses it
        return None
    query, posted = form

    def app_tenant() -> Tenant | None:
        try:
            domain = posted.get("appTenant") or query.get("appTenant")
            return authentication.tenant_named(domain, refusal.path_tenant)
        except AuthenticationFailed:
            return None

    try:
        with cached_only():  # a tenant named in the credential or appTenant and not cached: Django reads it
            return claimed_identities(header, refusal.handlers, app_tenant).identities
    except NotCached:
        return None
