"""Fuzz every operation of the OpenAPI description (schemathesis): no 5xx, no answer the
description does not allow (status code, content type, body schema).

A short run by default; ``make fuzz`` sets ``FUZZ_EXAMPLES`` for the long one and
``FUZZ_MIN_REQUESTS`` for the count it must reach.
"""

from __future__ import annotations

import base64
import os

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from identity.bootstrap import bootstrap

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "6"))
MIN_REQUESTS = int(os.environ.get("FUZZ_MIN_REQUESTS", "200"))
CHECKS = (not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance)
# The super tenant's admin (deployment.toml's [super_admin]): every management operation is open to it.
ADMIN = {"Authorization": "Basic " + base64.b64encode(b"admin:admin").decode()}
sent = {"requests": 0}

pytestmark = pytest.mark.long(10)


@pytest.fixture(scope="module")
def world(build_once):
    return build_once(bootstrap)


@pytest.fixture
def api_schema(world, db):
    # As Django's test client does: the WSGI handler must not close the test's connection
    # after each request (on PostgreSQL the next one would open a new one inside the test's
    # transaction).
    # (Django's test client reconnects them after each of its own requests, so this comes last.)
    document = Client().get("/api/v1/openapi.json", secure=True).json()
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield schemathesis.from_dict(document, app=get_wsgi_application())
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


schema = schemathesis.from_pytest_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=EXAMPLES <= 10,  # the short run is the same every time
    suppress_health_check=list(HealthCheck),
)
def test_no_server_error_and_no_schema_violation(case):
    # The admin's credentials, whatever security parameters were generated.
    case.headers = {**(case.headers or {}), **ADMIN}
    response = case.call_wsgi(base_url="https://localhost")
    sent["requests"] += 1
    case.validate_response(response, checks=CHECKS)


def test_enough_requests_were_sent():
    """Runs after the fuzzing above (pytest keeps file order): it sent at least the count asked."""
    print(f"fuzz: {sent['requests']} requests, 0 server errors, 0 schema violations")  # shown by -rP
    assert sent["requests"] >= MIN_REQUESTS
