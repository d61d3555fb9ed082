"""Token revocation (RFC 7009) at ``/t/<tenant>/oauth2/revoke`` and ``/oauth2/revoke``
(docs/clients-and-grants.md)."""

from __future__ import annotations

import pytest

from identity.models import AccessToken
from tests.support.oauth import (
    DEMO,
    error_of,
    issue,
    password_grant,
    refresh_grant,
    revoke,
    stored,
    stored_refresh,
)
from tests.support.worlds import oauth_world

pytestmark = pytest.mark.django_db

HINTS = [None, "access_token", "refresh_token", "something_else"]


@pytest.fixture(scope="module")
def world(build_once):
    return build_once(oauth_world)


def hint(token_type_hint: str | None) -> dict[str, str]:
    return {} if token_type_hint is None else {"token_type_hint": token_type_hint}


def assert_revoked_answer(response) -> None:
    """RFC 7009 §2.2: 200 whether or not there was anything to revoke."""
    assert response.status_code == 200, response.content
    assert response.content == b""
    # Finding 10 of the security audit: the answer was text/html, with no Cache-Control.
    assert response["Cache-Control"] == "no-store" and not response.has_header("Content-Type")


class TestAccessToken:
    """Revoking an access token marks it revoked: inactive at once, kept until it expires."""

    @pytest.mark.parametrize("token_type_hint", HINTS)
    def test_owner_revokes(self, client, world, token_type_hint):
        token = issue(client, "foo.com", {"grant_type": "client_credentials"})["access_token"]
        assert stored(token).is_active()
        assert_revoked_answer(revoke(client, token, **hint(token_type_hint)))
        row = stored(token)
        assert row.revoked is not None
        assert not row.is_active()
        assert not row.is_valid()

    def test_revoking_twice_is_fine(self, client, world):
        token = issue(client, "foo.com", {"grant_type": "client_credentials"})["access_token"]
        assert_revoked_answer(revoke(client, token))
        first = stored(token).revoked
        assert_revoked_answer(revoke(client, token))
        assert stored(token).revoked == first

    def test_revoking_the_access_token_revokes_its_refresh_token(self, client, world):
        """RFC 7009 §2.1 MAY; the toolkit does, else the refresh token would mint a new one."""
        tokens = password_grant(client)
        assert_revoked_answer(revoke(client, tokens["access_token"]))
        assert stored_refresh(tokens["refresh_token"]).revoked is not None
        assert error_of(refresh_grant(client, tokens["refresh_token"])) == "invalid_grant"


class TestRefreshToken:
    """Revoking a refresh token revokes the access tokens of its grant (docs/clients-and-grants.md)."""

    @pytest.mark.parametrize("token_type_hint", HINTS)
    def test_revokes_the_access_token_of_its_grant(self, client, world, token_type_hint):
        tokens = password_grant(client)
        assert_revoked_answer(revoke(client, tokens["refresh_token"], **hint(token_type_hint)))
        assert stored_refresh(tokens["refresh_token"]).revoked is not None
        access = stored(tokens["access_token"])
        assert access.revoked is not None
        assert not access.is_active()
        assert error_of(refresh_grant(client, tokens["refresh_token"])) == "invalid_grant"

    def test_after_rotation_every_access_token_of_the_grant_is_inactive(self, client, world):
        first = password_grant(client)
        second = refresh_grant(client, first["refresh_token"]).json()
        assert stored(second["access_token"]).is_active()
        assert_revoked_answer(revoke(client, second["refresh_token"]))
        for access_token in (first["access_token"], second["access_token"]):
            assert not stored(access_token).is_active()

    def test_other_grants_are_untouched(self, client, world):
        mine, other = password_grant(client), password_grant(client)
        assert_revoked_answer(revoke(client, mine["refresh_token"]))
        assert stored(other["access_token"]).is_active()
        assert stored_refresh(other["refresh_token"]).is_active()


class TestOwnership:
    """RFC 7009 §2.1: only the client a token was issued to can revoke it."""

    @pytest.mark.parametrize("kind", ["access_token", "refresh_token"])
    def test_another_client_gets_200_but_the_token_stays_active(self, client, world, kind):
        tokens = password_grant(client)
        assert_revoked_answer(revoke(client, tokens[kind], world.short, token_type_hint=kind))
        assert stored(tokens["access_token"]).is_active()
        assert stored_refresh(tokens["refresh_token"]).is_active()

    @pytest.mark.parametrize("token_type_hint", HINTS)
    def test_unknown_token_is_200(self, client, world, token_type_hint):
        before = AccessToken.objects.all_tenants().filter(revoked__isnull=False).count()
        assert_revoked_answer(revoke(client, "no-such-token", **hint(token_type_hint)))
        assert AccessToken.objects.all_tenants().filter(revoked__isnull=False).count() == before

    @pytest.mark.parametrize("credentials", [None, (DEMO[0], "wrong"), ("nobody", DEMO[1])])
    def test_client_must_authenticate(self, client, world, credentials):
        token = issue(client, "foo.com", {"grant_type": "client_credentials"})["access_token"]
        assert error_of(revoke(client, token, credentials), 401) == "invalid_client"
        assert stored(token).is_active()

    def test_a_failed_basic_credential_is_not_rescued_by_the_body(self, client, world):
        """Regression: a wrong Basic credential fell back to ``client_secret`` in the body (RFC
        6749 §2.3: one method per request; docs/security.md)."""
        token = issue(client, "foo.com", {"grant_type": "client_credentials"})["access_token"]
        response = revoke(client, token, ("nobody", "x"), client_id=DEMO[0], client_secret=DEMO[1])
        assert error_of(response, 401) == "invalid_client"
        assert stored(token).is_active()

    def test_token_parameter_is_required(self, client, world):
        response = revoke(client, "")
        assert error_of(response) == "invalid_request"


class TestTenants:
    """A client revokes at its own tenant's endpoint, and only its own tenant's tokens."""

    @pytest.mark.parametrize("kind", ["access_token", "refresh_token"])
    def test_same_client_id_and_secret_of_another_tenant_cannot_revoke(self, client, world, kind):
        # The demo client exists in carbon.super too, with the same id and secret.
        tokens = password_grant(client)
        assert_revoked_answer(revoke(client, tokens[kind], tenant="carbon.super"))
        assert stored(tokens["access_token"]).is_active()
        assert stored_refresh(tokens["refresh_token"]).is_active()

    def test_client_of_another_tenant_is_invalid_client(self, client, world):
        token = issue(client, "foo.com", {"grant_type": "client_credentials"})["access_token"]
        assert error_of(revoke(client, token, world.barclient), 401) == "invalid_client"
        assert stored(token).is_active()

    def test_super_tenant_endpoint_revokes_super_tenant_tokens(self, client, world):
        token = issue(client, "carbon.super", {"grant_type": "client_credentials"})["access_token"]
        assert_revoked_answer(revoke(client, token, tenant="carbon.super"))
        assert stored(token).revoked is not None
