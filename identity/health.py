"""``GET /health/live`` and ``GET /health/ready``: probes for load balancers and orchestrators.

Served outside ``/t/``, with no tenant resolved (``TenantMiddleware`` lets them through), no
authentication and nothing secret in the answer (docs/operations.md).
"""

from __future__ import annotations

import logging

from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache

from tenants.changes import listener_connected

logger = logging.getLogger(__name__)


def database_answers() -> bool:
    """Return whether the database answers a query."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any failure (refused, timeout, pool exhausted) means not ready
        logger.warning("readiness: the database does not answer: %s", type(exc).__name__)
        return False
    return True


@never_cache
def live(request) -> JsonResponse:
    """200 while the process serves requests."""
    return JsonResponse({"status": "UP"})


@never_cache
def ready(request) -> JsonResponse:
    """200 when the database answers and the change listener (if any) is connected, else 503
    naming each check that failed."""
    checks = {"database": "UP" if database_answers() else "DOWN"}
    listener = listener_connected()
    if listener is not None:
        checks["change_listener"] = "UP" if listener else "DOWN"
    failed = sorted(name for name, state in checks.items() if state != "UP")
    if failed:
        return JsonResponse({"status": "DOWN", "checks": checks, "failed": failed}, status=503)
    return JsonResponse({"status": "UP", "checks": checks})
