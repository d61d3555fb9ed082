"""``username`` and ``sub`` of an introspection response (docs/introspection.md#the-subject-identifier,
docs/clients-and-grants.md; the WSO2 document's
``validation_response_subject_identifier_format``)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from django.conf import settings

from tests.support.auth import basic
from tests.support.introspection import (
    CLIENT_ID,
    CLIENT_SECRET,
    ENDPOINT,
    FOO,
    SUPER,
    TOKEN_ENDPOINT,
    configured,
    make_client,
    make_refresh_token,
    make_token,
)
from tests.support.worlds import introspection_world

pytestmark = pytest.mark.django_db

CALLER = {SUPER: basic("admin", "admin"), FOO: basic("admin@foo.com", "admin")}
# The WSO2 document's snippet.
APP_CONFIGURED = '[oauth]\nvalidation_response_subject_identifier_format= "app_configured"\n'
NO_APP_USERNAME = "[oauth]\nremove_username_from_introspection_response_for_app_tokens = true\n"
BOTH = APP_CONFIGURED + "remove_username_from_introspection_response_for_app_tokens = true\n"

# The client flags that shape the subject (docs/introspection.md#the-subject-identifier):
# (use_tenant_domain_in_subject, use_user_store_domain_in_subject).
FLAGS = {"none": (False, False), "tenant": (True, False), "store": (False, True), "both": (True, True)}


@pytest.fixture(scope="module")
def world(build_once):
    def make():
        world = introspection_world()
        world.tokens = {}
        for domain, tenant in world.tenants.items():
            admin = world.users[domain]["admin"]
            clients = {"demo": world.clients[domain]}
            for name, (tenant_flag, store_flag) in FLAGS.items():
                clients[name] = make_client(
                    tenant,
                    f"flags-{name}",
                    use_tenant_domain_in_subject=tenant_flag,
                    use_user_store_domain_in_subject=store_flag,
                )
            for name, client in clients.items():
                world.tokens[domain, name] = SimpleNamespace(
                    client_id=client.client_id,
                    app=make_token(client, scope="test1"),
                    user=make_token(client, user=admin, grant_type="password", scope="test1"),
                    refresh=make_refresh_token(client, admin),
                )
        return world

    return build_once(make)


@pytest.fixture
def oauth(deployment_override):
    """Return ``apply(toml)``: run the test with the ``[oauth]`` table that ``toml`` gives."""

    def apply(toml: str):
        return deployment_override(oauth=configured(toml).oauth)

    return apply


def claims(client, token: str, domain: str = SUPER) -> dict:
    response = client.post(
        ENDPOINT[domain], {"token": token}, secure=True, headers={"Authorization": CALLER[domain]}
    )
    assert response.status_code == 200
    body = json.loads(response.content)
    assert body["active"] is True
    return body


def subject(client, token: str, domain: str = SUPER) -> tuple[str | None, str | None]:
    """Return ``(username, sub)`` of ``token``'s response (None for an absent claim)."""
    body = claims(client, token, domain)
    return body.get("username"), body.get("sub")


class TestFullyQualifiedDefault:
    """Default ``fqn``: the fully qualified username, whatever the client's flags."""

    def test_default_is_fqn(self):
        assert settings.DEPLOYMENT.oauth.validation_response_subject_identifier_format == "fqn"

    @pytest.mark.parametrize("domain", [SUPER, FOO])
    @pytest.mark.parametrize("flags", ["demo", *FLAGS])
    def test_app_token(self, client, world, domain, flags):
        tokens = world.tokens[domain, flags]
        assert subject(client, tokens.app, domain) == (f"admin@{domain}", tokens.client_id)

    @pytest.mark.parametrize("domain", [SUPER, FOO])
    @pytest.mark.parametrize("flags", ["demo", *FLAGS])
    @pytest.mark.parametrize("kind", ["user", "refresh"])
    def test_user_tokens(self, client, world, domain, flags, kind):
        token = getattr(world.tokens[domain, flags], kind)
        assert subject(client, token, domain) == (f"admin@{domain}",) * 2

    def test_wso2_document_usernames(self, client, world):
        """The document's sample responses: ``admin@carbon.super`` and ``admin@foo.com``."""
        assert claims(client, world.tokens[SUPER, "demo"].app)["username"] == "admin@carbon.super"
        assert claims(client, world.tokens[FOO, "demo"].app, FOO)["username"] == "admin@foo.com"

    def test_explicit_fqn_is_the_default(self, client, world, oauth):
        oauth('[oauth]\nvalidation_response_subject_identifier_format = "fqn"\n')
        assert subject(client, world.tokens[SUPER, "none"].user) == ("admin@carbon.super",) * 2


class TestAppConfigured:
    """``app_configured``: the token's client flags decide; the user store PRIMARY is never shown."""

    EXPECTED = {"none": "admin", "tenant": "admin@{domain}", "store": "admin", "both": "admin@{domain}"}

    @pytest.mark.parametrize("domain", [SUPER, FOO])
    @pytest.mark.parametrize("flags", list(FLAGS))
    @pytest.mark.parametrize("kind", ["user", "refresh"])
    def test_user_tokens(self, client, world, oauth, domain, flags, kind):
        oauth(APP_CONFIGURED)
        expected = self.EXPECTED[flags].format(domain=domain)
        assert subject(client, getattr(world.tokens[domain, flags], kind), domain) == (expected, expected)

    @pytest.mark.parametrize("domain", [SUPER, FOO])
    @pytest.mark.parametrize("flags", list(FLAGS))
    def test_app_tokens_sub_stays_the_client(self, client, world, oauth, domain, flags):
        oauth(APP_CONFIGURED)
        tokens = world.tokens[domain, flags]
        expected = self.EXPECTED[flags].format(domain=domain)
        assert subject(client, tokens.app, domain) == (expected, tokens.client_id)

    def test_demo_client_has_both_flags_off(self, client, world, oauth):
        """docs/introspection.md#the-subject-identifier: so ``username`` is then the bare ``admin``."""
        oauth(APP_CONFIGURED)
        assert subject(client, world.tokens[FOO, "demo"].user, FOO) == ("admin", "admin")


class TestSubOfAppTokens:
    """docs/clients-and-grants.md: ``sub`` is the client id for client_credentials tokens, the user for
    password-grant ones."""

    def token(self, client, **form) -> str:
        response = client.post(
            TOKEN_ENDPOINT[SUPER],
            form,
            secure=True,
            headers={"Authorization": basic(CLIENT_ID, CLIENT_SECRET)},
        )
        assert response.status_code == 200, response.content
        return json.loads(response.content)["access_token"]

    def test_client_credentials_grant(self, client, world):
        token = self.token(client, grant_type="client_credentials")
        assert subject(client, token) == ("admin@carbon.super", CLIENT_ID)

    def test_password_grant(self, client, world):
        token = self.token(client, grant_type="password", username="viewer", password="viewer-pw")
        assert subject(client, token) == ("viewer@carbon.super", "viewer@carbon.super")


class TestRemoveUsernameForAppTokens:
    """``remove_username_from_introspection_response_for_app_tokens``: app tokens only."""

    @pytest.mark.parametrize("toml", [NO_APP_USERNAME, BOTH])
    @pytest.mark.parametrize("domain", [SUPER, FOO])
    def test_app_token_loses_username_keeps_sub(self, client, world, oauth, toml, domain):
        oauth(toml)
        tokens = world.tokens[domain, "tenant"]
        body = claims(client, tokens.app, domain)
        assert "username" not in body
        assert body["sub"] == tokens.client_id

    @pytest.mark.parametrize("kind", ["user", "refresh"])
    def test_user_tokens_keep_username(self, client, world, oauth, kind):
        oauth(NO_APP_USERNAME)
        assert subject(client, getattr(world.tokens[SUPER, "demo"], kind)) == ("admin@carbon.super",) * 2

    def test_with_app_configured(self, client, world, oauth):
        oauth(BOTH)
        assert subject(client, world.tokens[FOO, "tenant"].user, FOO) == ("admin@foo.com",) * 2

    def test_off_by_default(self, client, world):
        assert settings.DEPLOYMENT.oauth.remove_username_from_introspection_response_for_app_tokens is False
        assert "username" in claims(client, world.tokens[SUPER, "demo"].app)
