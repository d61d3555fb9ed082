"""The server's WSGI application in-process: the layers in front of Django (docs/architecture.md)
around Django's handler, driven with requests built by Django's ``RequestFactory``."""

from __future__ import annotations

from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.http import HttpRequest

from identity.middleware import ContentTypeGuard
from introspection import first_sight
from introspection.replay import AnswerReplay
from introspection.throttle_gate import ThrottleGate


def server_application() -> AnswerReplay:
    """Return the application a worker runs, composed as ``identity/wsgi.py`` composes it."""
    return AnswerReplay(ThrottleGate(ContentTypeGuard(WSGIHandler())))


def send(application, request: HttpRequest) -> tuple[str, dict[str, str], bytes]:
    """Send ``request`` (from ``RequestFactory``) through the WSGI ``application``; return the
    status, headers and body."""
    started = {}

    def start_response(status, response_headers, exc_info=None):
        started.update(status=status, headers=dict(response_headers))

    # As Django's test client does: the test's transaction keeps its connection (the first-sight
    # path hands its connection back itself, as Django's request_finished does).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    first_sight.close_old_connections = _keep_connections
    try:
        result = application(request.environ, start_response)
        try:
            body = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
        first_sight.close_old_connections = close_old_connections
    return started["status"], started["headers"], body


def _keep_connections(**kwargs) -> None:
    """In place of ``close_old_connections`` while a test's transaction holds the connection."""
