"""With ``debug = true``, Django's error pages show no secret (finding 3 of the security audit).

Before: a request with more than 1000 form fields rendered Django's debug page, which printed
the deployment settings unmasked: the super admin password, the secret key, the database
password. The admin keeps Django's HTML pages; the API and OAuth endpoints answer JSON
(test_request_limits.py).
"""

from __future__ import annotations

import dataclasses
import sys
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.db import IntegrityError
from django.test import RequestFactory, override_settings
from django.views.debug import technical_500_response

from identity import signing
from identity.bootstrap import bootstrap
from identity.models import SigningKey
from identity.models import keys as keys_module
from identity.reporting import MASK
from identity.signing import current_key
from tenants.models import Tenant

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


def _failed_read(pem: str, copies: int) -> tuple:
    """Fail with ``copies`` rows holding ``pem`` in a local variable no ``sensitive_variables``
    covers (Django's frames reading signing keys hold such rows); return the exception's info."""
    rows = [("kid", pem)] * copies
    try:
        raise RuntimeError(f"failed after {len(rows)} rows")
    except RuntimeError:
        return sys.exc_info()


def _failed_rotation(tenant) -> tuple:
    """Rotate ``tenant``'s key, which fails as the new key is saved; return the exception's info."""
    try:
        signing.rotate(tenant)
    except IntegrityError:
        return sys.exc_info()
    raise AssertionError("the rotation did not fail")


class TestPrivateKeys:
    """Regression: with ``debug = true``, a failure while a new signing key was saved (a tenant
    made in the admin, a rotation) rendered Django's technical 500 page with the frames' local
    variables, the key's PEM among them (``SigningKey.generate``'s, and the parameters of the
    INSERT in Django's database frames). Django's ``sensitive_variables`` hides them, and our
    filter applies it in debug too, where Django's own shows everything."""

    @pytest.mark.parametrize("accept", ["text/html", "text/plain"])
    def test_no_pem_on_the_page(self, world, monkeypatch, accept):
        tenant = Tenant.objects.get(domain=settings.DEPLOYMENT.tenant.super_tenant_domain)
        pems: list[str] = []
        save = SigningKey.save

        def recording_save(key, *args, **kwargs):
            pems.append(key.private_key)
            return save(key, *args, **kwargs)

        monkeypatch.setattr(SigningKey, "save", recording_save)
        # The new key gets the current key's kid: the INSERT fails on the unique kid.
        monkeypatch.setattr(keys_module, "_thumbprint", lambda jwk: current_key(tenant).kid)
        exc_info = _failed_rotation(tenant)
        request = RequestFactory().post("/admin/identity/tenant/add/", headers={"Accept": accept})
        with override_settings(DEBUG=True):
            page = technical_500_response(request, *exc_info).content.decode()
        assert "IntegrityError" in page
        [pem] = pems
        body = [line for line in pem.splitlines() if "PRIVATE KEY" not in line]
        assert "PRIVATE KEY-----" not in page
        assert [line for line in body if line in page] == []

    # One row, and enough that Django trims the variable (past 4096 characters) before its END line.
    @pytest.mark.parametrize("copies", [1, 5])
    @pytest.mark.parametrize("accept", ["text/html", "text/plain"])
    def test_a_pem_anywhere_on_the_page_is_masked(self, world, accept, copies):
        """Whatever frame holds one: a PEM private key block on the page is replaced whole."""
        pem = SigningKey.objects.all_tenants().first().private_key
        request = RequestFactory().get("/admin/identity/signingkey/", headers={"Accept": accept})
        with override_settings(DEBUG=True):
            page = technical_500_response(request, *_failed_read(pem, copies)).content.decode()
        assert "RuntimeError" in page and MASK in page
        body = [line for line in pem.splitlines() if "PRIVATE KEY" not in line]
        assert "PRIVATE KEY-----" not in page
        assert [line for line in body if line in page] == []
