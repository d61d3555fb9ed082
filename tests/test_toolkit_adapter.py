"""What identity/oauth/toolkit_adapter.py relies on in django-oauth-toolkit (3.4.1): these fail
when an upgrade changes the engine under the adapter, before a token row silently loses a field.

Also the public seams that replaced private ones: the token dict that ``save_bearer_token`` may
change (oauthlib documents it), and the toolkit's own ``Application.clean()``.
"""

from __future__ import annotations

import inspect
from datetime import timedelta

import jwt
import pytest
from django.core.exceptions import ValidationError
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauthlib.common import Request
from oauthlib.oauth2.rfc6749 import errors

from identity.models import Client
from identity.oauth.toolkit_adapter import requested_resources
from identity.oauth.validator import TenantOAuth2Validator
from tenants.managers import use_tenant
from tests.support.oauth import TOKEN_PATHS, issue, stored
from tests.support.worlds import oauth_world

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def world(build_once):
    return build_once(oauth_world)


def token_request(client: Client, grant_type: str, body: str = "") -> Request:
    """Return an oauthlib request for ``client`` as the token endpoint has validated it."""
    request = Request(f"https://testserver{TOKEN_PATHS['foo.com']}", http_method="POST", body=body)
    request.client, request.grant_type, request.user, request.scopes = client, grant_type, None, []
    return request


def foo_client(world, client_id: str) -> Client:
    return Client.objects.for_tenant(world.foo).get(client_id=client_id)


class TestTheEngineUnderTheAdapter:
    @pytest.mark.parametrize(
        ("name", "parameters"),
        [
            ("_create_access_token", ["self", "expires", "request", "token", "source_refresh_token"]),
            (
                "_create_refresh_token",
                ["self", "request", "refresh_token_code", "access_token", "previous_refresh_token"],
            ),
            ("_check_and_set_request_resource", ["self", "request"]),
            ("_set_token_value", ["self", "token_instance", "raw_token"]),
        ],
    )
    def test_the_private_methods_we_override_or_call_keep_their_signatures(self, name, parameters):
        assert list(inspect.signature(getattr(OAuth2Validator, name)).parameters) == parameters

    def test_saving_a_bearer_token_builds_its_row_with_our_override(self, world):
        """If the toolkit stopped calling ``_create_access_token``, the row would lose its grant
        type, its owner and the moment its expiry was computed."""
        client = foo_client(world, "short")
        token = {"access_token": "adapter-token", "expires_in": 120, "token_type": "Bearer", "scope": ""}
        with use_tenant(world.foo):
            TenantOAuth2Validator().save_bearer_token(token, token_request(client, "client_credentials"))
        row = stored("adapter-token")
        assert (row.tenant_id, row.grant_type, row.user_id) == (
            world.foo.id,
            "client_credentials",
            client.user_id,
        )
        assert row.expires - row.created == timedelta(seconds=120)
        assert row.token == "" and row.token_checksum  # the toolkit's RFC 9700 storage, kept

    def test_a_refresh_token_row_gets_the_family_end(self, world, client):
        body = issue(
            client, "foo.com", {"grant_type": "password", "username": "alice", "password": "alice-pw"}
        )
        refresh = stored(body["access_token"]).refresh_token
        assert refresh.family_expires is not None and refresh.expires <= refresh.family_expires

    def test_resources_are_read_as_the_toolkit_records_them(self, world):
        """RFC 8707: a repeated ``resource`` is every value, not oauthlib's last one."""
        body = "grant_type=client_credentials&resource=https://a.example&resource=https://b.example"
        request = token_request(foo_client(world, "api"), "client_credentials", body)
        request.resource = "https://b.example"  # what oauthlib keeps of a repeated parameter
        assert requested_resources(TenantOAuth2Validator(), request) == [
            "https://a.example",
            "https://b.example",
        ]

    def test_a_resource_that_is_no_uri_is_invalid_target(self, world):
        request = token_request(foo_client(world, "api"), "client_credentials", "resource=nonsense")
        request.resource = "nonsense"
        with pytest.raises(errors.CustomOAuth2Error) as raised:
            requested_resources(TenantOAuth2Validator(), request)
        assert raised.value.error == "invalid_target"

    def test_a_jwt_access_tokens_row_says_what_its_claims_say(self, world, client):
        body = issue(client, "foo.com", {"grant_type": "client_credentials"}, world.jwt)
        claims = jwt.decode(body["access_token"], options={"verify_signature": False})
        row = stored(body["access_token"])
        assert str(row.jti) == claims["jti"]
        assert (int(row.created.timestamp()), int(row.expires.timestamp())) == (claims["iat"], claims["exp"])
        assert row.resource == [claims["aud"]]


class TestPublicSeams:
    def test_an_empty_scope_is_left_out_of_the_answer_through_the_token_dict(self, world):
        """oauthlib answers with the dict ``save_bearer_token`` was given (its documented contract):
        our hook removes an empty ``scope`` there, no re-parsing of the engine's JSON."""
        token = {"access_token": "no-scope", "expires_in": 60, "token_type": "Bearer", "scope": ""}
        with use_tenant(world.foo):
            TenantOAuth2Validator().save_bearer_token(
                token, token_request(foo_client(world, "short"), "client_credentials")
            )
        assert "scope" not in token

    def test_the_toolkits_own_client_checks_run(self, world):
        """``Client.clean()`` calls the toolkit's: an allowed origin must be an https URI."""
        client = foo_client(world, "webapp")
        client.allowed_origins = "ftp://app.example"
        with pytest.raises(ValidationError) as raised:
            client.full_clean()
        assert "allowed_origins" in raised.value.message_dict

    def test_our_client_checks_still_run_beside_the_toolkits(self, world):
        client = foo_client(world, "webapp")
        client.allowed_origins, client.redirect_uris = "ftp://app.example", "http://app.example/cb"
        with pytest.raises(ValidationError) as raised:
            client.full_clean()
        assert {"allowed_origins", "redirect_uris"} <= set(raised.value.message_dict)
