"""Answer **503** JSON with ``Retry-After`` when the database cannot be reached (RFC 9110 §15.6.4).

A refused, dropped or timed-out connection (Django's ``OperationalError`` / ``InterfaceError``,
which wrap psycopg's and the pool's ``PoolTimeout``) is an outage, not a bug: the client is
told to come back, never shown a 500 or a debug page. Nothing is answered from memory instead
(docs/security.md).
"""

from __future__ import annotations

import logging
import sys

from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError
from django.dispatch import receiver
from django.http import JsonResponse

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
OUTAGE_ERRORS: tuple[type[BaseException], ...] = (OperationalError, InterfaceError)


def is_outage(exc: BaseException | None) -> bool:
    """Return whether ``exc`` (or what caused it) says the database is unreachable."""
    while exc is not None:
        if isinstance(exc, OUTAGE_ERRORS):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def unavailable_response() -> JsonResponse:
    response = JsonResponse(
        {"error": "temporarily_unavailable", "error_description": "the database is unavailable; try again"},
        status=503,
    )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


class DatabaseUnavailable(Exception):
    """An outage met outside the view, carried past Django's per-middleware exception handling."""


class DatabaseUnavailableMiddleware:
    """Turn a database outage anywhere in the request into a 503; first in ``MIDDLEWARE``."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            return self.get_response(request)
        except DatabaseUnavailable as exc:
            logger.warning("database unavailable: %s", _driver_error(exc.__cause__))
            return unavailable_response()

    def process_exception(self, request, exception):
        if is_outage(exception):
            logger.warning("database unavailable: %s", _driver_error(exception))
            return unavailable_response()
        return None


def _driver_error(exc: BaseException | None) -> str:
    """Name the driver's error under Django's wrapper (``ConnectionTimeout``, ``DeadlockDetected``,
    ``PoolTimeout``...): what an operator needs to tell an outage from a conflict of writers."""
    cause = exc.__cause__ if exc is not None else None
    return type(cause or exc).__name__


@receiver(got_request_exception)
def _carry_outage(sender, request=None, **kwargs) -> None:
    """Re-raise an outage that another middleware met, up to :class:`DatabaseUnavailableMiddleware`.

    Django turns each middleware's exception into a response at once, and sends this signal
    first: without it, the outage would be a 500 (or, with ``debug = true``, a debug page whose
    rendering waits on the database again).
    """
    exc = sys.exc_info()[1]
    if is_outage(exc):
        raise DatabaseUnavailable() from (exc.__cause__ if isinstance(exc, DatabaseUnavailable) else exc)
