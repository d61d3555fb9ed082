"""The first sight of a token, answered before Django for a caller Django let through.

A kept answer (``introspection/replay.py``) serves the same request again; each request about
a token not asked about yet went through the whole of Django. Most of what Django does for it
does not depend on the token: the tenant of the path, the access-control entry, the caller
verified from its credential, the throttling check of a cached caller, gates 1 and 2
(``introspection/gates.py``), the security headers the middleware add. Only the form's
``token`` (and its ``token_type_hint``) changes the answer.

So when Django answers a request with an answer the replay layer keeps, the layer also keeps a
:class:`Pass` under the request's shape: every key input of the replay layer but the body.
It holds what Django found of the caller (the caller, the path's tenant, the server's origin as
the caller reaches it) and Django's answer as a template, tagged with every cache entry that
answer read, the caller's included, and no longer than the earliest of their expiries. A
later request of that shape, about another token, is answered by the view's own functions of
the token: the lookup (``introspection/lookup.py``), gate 3 and the token's state
(``gates.inactive_by``), the claims (``responses.active_claims``), and the audit decision
(``introspection/audit.py``); its status and headers are the template's, with its own
``Content-Length``. The replay layer then keeps that answer too, as it keeps Django's.

The database connection a first sight used is kept for the next one, as long as the pool would
lend it again without a check (``identity/postgresql/base.py``: within 0.5 s). Handing it back
and borrowing it again cost more than the token's read (about 130 µs of 900 in one process,
docs/performance.md). Kept longer, it is handed back; idle longer, it is handed back before it
is used, so that the pool checks it when it lends it again; a failed read hands it back at once
(Django's path, which answers instead, takes a checked one). Django's own requests hand it back
when they start, as they hand back their own.

Django answers instead when: no pass is kept for the shape (the caller's first request, or a
change dropped it); a throttling block refuses the caller (Django's path refuses it); the
caller's credential is no longer in the verified-caller cache (:meth:`Pass.caller_cached`); the body
holds anything but ``token`` and ``token_type_hint`` (``appTenant`` and ``response_as_jwt``
change the caller or the answer's format), or a form the request-limits middleware refuses
(``identity.middleware.read_form``); the token's client has introspection scripts (they get
the request); the database fails (Django answers an outage 503), or anything else does (logged:
Django's path answers, never the WSGI server's HTML 500). A pass is kept only from a request
whose body is such a form too.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from django.db import close_old_connections, connection

from deployment.current import get_deployment
from identity.middleware import read_form
from identity.oauth.scripts import scripts_for
from introspection import audit as decision
from introspection import gates
from introspection.authentication import Caller
from introspection.lookup import find_token
from introspection.responses import INACTIVE, active_claims, json_body
from tenants.cache import MISSING, cache
from tenants.errors import ApiError
from tenants.models import Tenant

# The form parameters a pass answers: any other goes to Django (RFC 7662 §2.1's two, here).
PARAMETERS = frozenset({"token", "token_type_hint"})
# Seconds a first sight's connection is kept for the next: the pool's own window for lending a
# connection again unchecked (identity/postgresql/base.py IDLE_CHECK_SECONDS).
KEEP_SECONDS = 0.5
_MAIN = threading.main_thread()


@dataclass(frozen=True)
class Pass:
    """What Django's path found for a request's caller, and the answer it gave (the template)."""

    caller: Caller
    path_tenant: Tenant
    origin: str  # identity.oauth.issuer.server_origin of the request: the issuer's start
    answer: Any  # introspection.replay.Answer

    def caller_cached(self) -> bool:
        """Whether its caller's verified credential is still in the verified-caller cache, as
        Django's path finds it (``introspection.throttling.claimed_identities``): Django checks
        one that is not for real, its throttling counters with it (docs/security.md), and the
        entry, read by Django's path alone, may leave the cache before the pass that first
        sights keep reading. An anonymous caller has none: nothing is checked or counted."""
        entry = self.caller.entry
        return entry is None or cache.get(entry) is not MISSING


@dataclass(frozen=True)
class Decided:
    """A first sight's answer: its body and audit decision."""

    body: bytes
    decision: decision.Decision
    known: bool  # the token exists: its answer may be kept (an unknown one may be issued soon)


def token_of(environ: dict[str, Any], body: bytes) -> tuple[str, str] | None:
    """Return the ``token`` and ``token_type_hint`` of a request whose form holds nothing else
    and passes the request-limits middleware's checks; None for any other request."""
    try:
        form = read_form(
            environ.get("QUERY_STRING", ""),
            environ.get("CONTENT_TYPE", ""),
            body or None,
            get_deployment().server.max_form_fields,
        )
    except ApiError:
        return None
    if form is None:  # multipart: Django parses it
        return None
    posted = form[1]
    token = posted.get("token")
    if not token or not posted.keys() <= PARAMETERS:
        return None
    return token, posted.get("token_type_hint", "")


def decide(passed: Pass, token: str, hint: str) -> Decided | None:
    """Answer ``token`` to the pass's caller as the view does once the caller is through
    (``introspection/views.py``); None when Django must (the token's client runs scripts)."""
    deployment = get_deployment()
    found = find_token(token, hint)
    gate = gates.inactive_by(found, passed.path_tenant, deployment.oauth.introspect)
    if gate is None and found is not None:
        if scripts_for(found.application, deployment):
            return None
        claims, outcome = active_claims(found, deployment, passed.origin), "active"
    else:
        claims, outcome = INACTIVE, "inactive"
    fields = decision.fields(
        caller=passed.caller,
        path_tenant=passed.path_tenant,
        found=found,
        gate=gate or decision.PASSED,
        outcome=outcome,
    )
    return Decided(json_body(claims), fields, found is not None)


class KeptConnection:
    """The database connection of a process's first sights, kept between them (see above)."""

    def __init__(self) -> None:
        self.lent = self.used = 0.0  # time.monotonic()

    def take(self) -> None:
        """Before a first sight: hand the connection back if it was idle too long to be trusted."""
        now = time.monotonic()
        if connection.connection is not None and now - self.used > KEEP_SECONDS:
            self.hand_back()
        if connection.connection is None:
            self.lent = now  # the read borrows one

    def keep(self, *, failed: bool) -> None:
        """After a first sight: keep the connection for the next, unless it failed or is due back,
        or this is not the process's main thread (a gunicorn sync worker serves there; a
        threaded server, such as ``runserver``'s thread a request, would never hand it back)."""
        self.used = time.monotonic()
        if failed or self.used - self.lent > KEEP_SECONDS or threading.current_thread() is not _MAIN:
            self.hand_back()

    def hand_back(self) -> None:
        """As Django does at the end of its requests (``close_old_connections``): a pooled
        connection goes back to its pool, one that failed is discarded."""
        close_old_connections()
