"""A database error met while serving a request (identity/outage.py): a 503 JSON answer with
``Retry-After``, and a log line naming the driver's error under Django's wrapper."""

from __future__ import annotations

import json

import psycopg.errors
import pytest
from django.db import OperationalError
from django.test import RequestFactory

from identity.outage import DatabaseUnavailableMiddleware


@pytest.mark.parametrize(
    "cause", [psycopg.errors.DeadlockDetected, psycopg.errors.ConnectionTimeout, psycopg.OperationalError]
)
def test_answered_503_naming_the_drivers_error(caplog, cause):
    def view(request):
        try:
            raise cause("from the driver")
        except Exception as exc:
            raise OperationalError("as Django wraps it") from exc

    middleware = DatabaseUnavailableMiddleware(view)
    request = RequestFactory().post("/oauth2/introspect")
    try:
        view(request)
    except OperationalError as exc:
        response = middleware.process_exception(request, exc)
    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert json.loads(response.content)["error"] == "temporarily_unavailable"
    assert caplog.messages == [f"database unavailable: {cause.__name__}"]
