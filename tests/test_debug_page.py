"""With ``debug = true``, Django's error pages show no secret (finding 3 of the security audit).

Before: a request with more than 1000 form fields rendered Django's debug page, which printed
the deployment settings unmasked: the super admin password, the secret key, the database
password. The admin keeps Django's HTML pages; the API and OAuth endpoints answer JSON
(test_request_limits.py).
"""

from __future__ import annotations

import dataclasses
from urllib.parse import urlencode

import pytest
from django.test import override_settings

from identity.bootstrap import bootstrap
from identity.reporting import MASK

pytestmark = pytest.mark.django_db

SECRETS = {
    "super admin password": "Super-admin-pw-41",
    "secret key": "secret-key-value-0123456789",
    "database password": "Db-password-77",
    "redis url password": "Redis-pw-93",
    "environment secret": "Env-token-value-55",
    "$env{} value": "substituted-value-61",
}
MANY_FIELDS = urlencode({f"f{i}": "x" for i in range(1001)})


@pytest.fixture(scope="module")
def world(build_once):
    return build_once(bootstrap)


@pytest.fixture
def secret_deployment(world, settings, deployment_override, monkeypatch):
    monkeypatch.setenv("IDENTITY_TEST_API_TOKEN", SECRETS["environment secret"])
    monkeypatch.setenv("IDENTITY_TEST_NAME", SECRETS["$env{} value"])
    deployment = settings.DEPLOYMENT
    deployment_override(
        server=dataclasses.replace(
            deployment.server, secret_key=SECRETS["secret key"], hostname=SECRETS["$env{} value"]
        ),
        super_admin=dataclasses.replace(deployment.super_admin, password=SECRETS["super admin password"]),
        database=dataclasses.replace(
            deployment.database,
            identity_db=dataclasses.replace(
                deployment.database.identity_db, password=SECRETS["database password"]
            ),
        ),
        throttle=dataclasses.replace(
            deployment.throttle, redis_url=f"redis://:{SECRETS['redis url password']}@127.0.0.1:6379/0"
        ),
    )


@pytest.mark.parametrize("accept", ["text/html", "text/plain"])
def test_debug_page_masks_every_secret(client, secret_deployment, accept):
    """Finding 3: the technical 400 page printed DEPLOYMENT (passwords, secret key) unmasked."""
    with override_settings(DEBUG=True, SECRET_KEY=SECRETS["secret key"]):
        response = client.post(
            "/admin/login/",
            MANY_FIELDS,
            content_type="application/x-www-form-urlencoded",
            headers={"Accept": accept, "X-Echo": SECRETS["environment secret"]},
        )
    page = response.content.decode()
    assert response.status_code == 400
    assert "TooManyFieldsSent" in page  # Django's debug page, for the admin
    assert MASK in page
    leaked = [name for name, value in SECRETS.items() if value in page]
    assert leaked == []
