"""Give every request an id, and write its log line and its metrics (docs/operations.md).

The id is the caller's ``X-Request-ID`` when it is well-formed (1 to 128 characters of
``A-Z a-z 0-9 . _ -``), else a new random one; it is echoed in the response and carried by every
log line and audit event written while the request is served.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from identity import logs, metrics
from identity.conf import get_deployment
from tenants.resolver import split_tenant_path

HEADER = "X-Request-ID"
WELL_FORMED = re.compile(r"[A-Za-z0-9._-]{1,128}")
UNMATCHED = "unmatched"  # the endpoint label of a request no URL pattern matched

logger = logging.getLogger("identity.request")


def request_id_for(header: str | None) -> str:
    """Return ``header`` when it is a well-formed request id, else a new one."""
    if header and WELL_FORMED.fullmatch(header):
        return header
    return uuid.uuid4().hex


def endpoint_of(request) -> str:
    """Return the bounded name of the endpoint that served ``request``: its URL pattern's name
    (with its namespace), else its route, else ``unmatched``; never the raw path."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return UNMATCHED
    return match.view_name or match.route or UNMATCHED


class RequestIdMiddleware:
    """Set the request id and tenant for the request's log lines; after the response, echo the
    id, write the request line (path without its query) and count the request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        rid = request_id_for(request.headers.get(HEADER))
        domain = split_tenant_path(request.path_info).domain or get_deployment().tenant.super_tenant_domain
        rid_token, tenant_token = logs.request_id.set(rid), logs.tenant.set(domain[:253])
        try:
            response = self.get_response(request)
            duration = time.perf_counter() - started
            response[HEADER] = rid
            endpoint = endpoint_of(request)
            status = response.status_code
            # request.path: the query string (a GET introspection's token) is never part of it.
            logger.info(
                "%s %s %s",
                request.method,
                request.path,
                status,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": status,
                    "duration_ms": round(duration * 1000, 3),
                },
            )
            metrics.REQUESTS.labels(endpoint, request.method, str(status)).inc()
            metrics.REQUEST_DURATION.labels(endpoint).observe(duration)
            metrics.observe_db_pool()
            return response
        finally:
            logs.request_id.reset(rid_token)
            logs.tenant.reset(tenant_token)
