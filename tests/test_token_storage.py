"""What the OAuth core keeps, and where (docs/token-storage.md, docs/security.md): digests, never tokens or
secrets.

Every check looks at the database raw (every column of every row of every table), at
``str()``/``repr()`` and at the captured logs, for the values a client saw.
"""

from __future__ import annotations

import hashlib
import logging
import re
from unittest import mock

import pytest
from django.contrib.auth import hashers
from django.contrib.auth.hashers import check_password, identify_hasher
from django.db import connection

from identity.models import AccessToken, Client, Grant, IDToken
from identity.models.tokens import redeemed_code
from identity.provisioning import create_user
from identity.services.clients import ClientSpec, create_client
from tests.support.oauth import (
    DEMO,
    TOKEN_PATHS,
    authorize,
    exchange_code,
    issue,
    password_grant,
    pkce_pair,
    refresh_grant,
    revoke,
    sign_in,
    stored,
    stored_refresh,
    token_request,
)
from tests.support.worlds import oauth_world

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def world(build_once):
    return build_once(oauth_world)


def client_credentials(client, world) -> dict:
    return issue(client, "foo.com", {"grant_type": "client_credentials", "scope": "test1"})


def password(client, world) -> dict:
    return password_grant(client, scope="test1")


def refreshed(client, world) -> dict:
    first = password_grant(client, scope="test1 test2")
    second = issue(
        client, "foo.com", {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    )
    return {"first_access": first["access_token"], "first_refresh": first["refresh_token"], **second}


def jwt_access_token(client, world) -> dict:
    """An RFC 9068 access token: the JWT itself is not stored either, only its digest and jti."""
    body = issue(client, "foo.com", {"grant_type": "client_credentials"}, world.jwt)
    assert body["access_token"].count(".") == 2
    return body


def authorization_code(client, world) -> dict:
    sign_in(client, "/t/foo.com", "alice", "alice-pw")
    verifier, challenge = pkce_pair()
    code = authorize(client, "webapp", challenge, scope="test1")
    response = exchange_code(client, code, verifier, world.web)
    assert response.status_code == 200, response.content
    return {"code": code, "code_verifier": verifier, **response.json()}


GRANTS = [client_credentials, password, refreshed, authorization_code, jwt_access_token]


def secrets_seen(body: dict) -> list[str]:
    """Return the credential values of a token response (and of the flow behind it)."""
    return [value for key, value in body.items() if key not in ("token_type", "expires_in", "scope")]


def database_dump() -> str:
    """Return every value of every row of every table, as text."""
    cells = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608 (table names from the schema)
            cells.extend(str(cell) for row in cursor.fetchall() for cell in row)
    return "\n".join(cells)


class TestDatabase:
    """No column of any row holds a token or a client secret (docs/clients-and-grants.md; RFC 9700
    §4.14.2)."""

    @pytest.mark.parametrize("grant", GRANTS, ids=lambda grant: grant.__name__)
    def test_a_token_lives_exactly_its_lifetime(self, client, world, grant):
        """Regression: ``created`` was taken a moment after ``expires`` was computed, so the
        introspected exp - iat was 3599 when a second boundary fell in between."""
        body = grant(client, world)
        row = stored(body["access_token"])
        assert (row.expires - row.created).total_seconds() == body["expires_in"]

    @pytest.mark.parametrize("grant", GRANTS, ids=lambda grant: grant.__name__)
    def test_no_token_or_secret_in_any_column(self, client, world, grant):
        seen = secrets_seen(grant(client, world))
        assert seen  # the grant did issue something to look for
        dump = database_dump()
        assert AccessToken.objects.all_tenants().exists()  # the dump did read the rows
        for value in [*seen, DEMO[1], world.web[1], world.jwt[1]]:
            assert value not in dump

    @pytest.mark.parametrize("grant", GRANTS, ids=lambda grant: grant.__name__)
    def test_tokens_are_found_by_their_sha256_hex_digest(self, client, world, grant):
        body = grant(client, world)
        access = stored(body["access_token"])
        assert access.token == ""
        assert re.fullmatch(r"[0-9a-f]{64}", access.token_checksum)
        assert access.token_checksum == hashlib.sha256(body["access_token"].encode()).hexdigest()
        if "refresh_token" in body:
            refresh = stored_refresh(body["refresh_token"])
            assert refresh.token == ""
            assert refresh.token_checksum == hashlib.sha256(body["refresh_token"].encode()).hexdigest()

    def test_authorization_code_is_gone_once_redeemed(self, client, world):
        """The row stays, marked redeemed (a replay must be recognised, RFC 6749 §4.1.2), but
        holds a digest in place of the code."""
        body = authorization_code(client, world)
        grant = Grant.objects.all_tenants().get()
        assert grant.redeemed is not None
        assert grant.code == redeemed_code(body["code"])


@pytest.fixture
def pbkdf2_calls():
    """Count the PBKDF2 derivations Django's hashers run."""
    with mock.patch.object(hashers, "pbkdf2", wraps=hashers.pbkdf2) as spy:
        yield spy


class TestClientSecretHashing:
    """Client secrets: the fast salted ``sha256_secret`` scheme, not the users' PBKDF2
    (docs/clients-and-grants.md)."""

    def test_demo_secret_is_stored_with_sha256_secret(self, world):
        for client in Client.objects.all_tenants():
            assert identify_hasher(client.client_secret).algorithm == "sha256_secret"
        demo = Client.objects.for_tenant(world.foo).get(client_id=DEMO[0])
        assert check_password(DEMO[1], demo.client_secret)
        assert not check_password(DEMO[1] + "x", demo.client_secret)

    def test_same_secret_gets_a_different_salt_in_each_tenant(self, world):
        super_demo, foo_demo = (
            Client.objects.for_tenant(tenant).get(client_id=DEMO[0]) for tenant in (world.super, world.foo)
        )
        assert super_demo.client_secret != foo_demo.client_secret

    def test_generated_secret_is_stored_hashed(self, world, production_hashers):
        client, secret = create_client(world.foo, ClientSpec(name="x", grant_types=["client_credentials"]))
        client.refresh_from_db()
        assert len(secret) >= 40
        assert secret not in client.client_secret
        assert client.client_secret.startswith("sha256_secret$")

    def test_client_authentication_runs_no_pbkdf2(self, client, world, production_hashers, pbkdf2_calls):
        response = token_request(client, TOKEN_PATHS["foo.com"], {"grant_type": "client_credentials"}, DEMO)
        assert response.status_code == 200
        assert pbkdf2_calls.call_count == 0

    def test_user_passwords_keep_pbkdf2(self, client, world, production_hashers, pbkdf2_calls):
        """The control of the test above: the spy does see a user's password being checked."""
        user = create_user(world.foo, "carol", "carol-pw")
        assert user.password.startswith("pbkdf2_sha256$")
        pbkdf2_calls.reset_mock()
        password_grant(client, user=("carol", "carol-pw"))
        assert pbkdf2_calls.call_count >= 1


class TestStringForms:
    """``str()`` and ``repr()`` (admin, tracebacks, logs) never show a token or a secret."""

    def test_tokens(self, client, world):
        body = password_grant(client, scope="test1")
        rows = [stored(body["access_token"]), stored_refresh(body["refresh_token"])]
        for row in rows:
            for text in (str(row), repr(row)):
                assert body["access_token"] not in text
                assert body["refresh_token"] not in text
                assert row.token_checksum not in text

    def test_authorization_code(self, client, world):
        sign_in(client, "/t/foo.com", "alice", "alice-pw")
        code = authorize(client, "webapp", pkce_pair()[1])
        grant = Grant.objects.all_tenants().get()
        for text in (str(grant), repr(grant)):
            assert code not in text

    def test_id_token(self):
        row = IDToken(jti="00000000-0000-0000-0000-000000000000", user_id=1)
        assert str(row) == "JTI: 00000000-0000-0000-0000-000000000000 User: 1"

    def test_clients(self, world):
        client, secret = create_client(
            world.foo, ClientSpec(name="Shown", grant_types=["client_credentials"])
        )
        for instance in (client, Client.objects.for_tenant(world.foo).get(pk=client.pk)):
            for text in (str(instance), repr(instance)):
                assert secret not in text
                assert instance.client_secret not in text
        demo = Client.objects.for_tenant(world.foo).get(client_id=DEMO[0])
        assert DEMO[1] not in str(demo) + repr(demo)


@pytest.fixture
def all_logs(caplog):
    """Capture every logger at DEBUG: the root and Django's (which does not propagate).

    Levels the project's LOGGING sets on other loggers stay: they are what is under test.
    """
    django_logger = logging.getLogger("django")
    django_logger.addHandler(caplog.handler)
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="django")
    yield caplog
    django_logger.removeHandler(caplog.handler)


def logged_text(caplog) -> str:
    """Return everything the records carry: messages, arguments, tracebacks."""
    parts = []
    for record in caplog.records:
        parts += [record.getMessage(), repr(record.args), record.exc_text or ""]
        if record.exc_info:
            parts.append(logging.Formatter().formatException(record.exc_info))
    return "\n".join(parts)


class TestLogs:
    """docs/security.md: secrets and tokens never reach the logs, not even at DEBUG."""

    def test_full_flow(self, client, world, all_logs):
        seen = [DEMO[1], world.web[1], "alice-pw"]
        for grant in GRANTS:
            seen += secrets_seen(grant(client, world))
        body = password_grant(client, scope="test1")
        seen += secrets_seen(body)
        # Failures log too: a wrong secret, a replayed refresh token, a made-up code.
        wrong_secret = (DEMO[0], "wrong")
        token_request(client, TOKEN_PATHS["foo.com"], {"grant_type": "client_credentials"}, wrong_secret)
        rotated = refresh_grant(client, body["refresh_token"]).json()
        seen += secrets_seen(rotated)
        assert refresh_grant(client, body["refresh_token"]).status_code == 400  # a replay
        bad_code = "made-up-code-" + pkce_pair()[0]
        seen.append(bad_code)
        exchange_code(client, bad_code, pkce_pair()[0], world.web)
        # Revocation, of an access and of a refresh token, by the wrong and the right client.
        for token in (rotated["access_token"], rotated["refresh_token"]):
            for credentials in (world.short, DEMO):
                assert revoke(client, token, credentials).status_code == 200

        text = logged_text(all_logs)
        assert any(record.levelno == logging.DEBUG for record in all_logs.records)  # DEBUG was on
        assert "Unauthorized" in text  # and django.request's warnings were captured
        leaked = [value for value in seen if value in text]
        assert leaked == []

    @pytest.mark.parametrize(
        "name",
        [
            "oauthlib.oauth2.rfc6749.grant_types.refresh_token",  # "Validating refresh token <token>"
            "oauthlib.oauth2.rfc6749.grant_types.client_credentials",  # "Issuing token {...}"
            "oauth2_provider.views.base",  # "Success url for the request: ...?code=<code>"
        ],
    )
    def test_token_logging_libraries_stay_off_debug(self, all_logs, name):
        """Regression: with the root logger at DEBUG these logged every token they issued."""
        assert logging.getLogger().isEnabledFor(logging.DEBUG)
        assert not logging.getLogger(name).isEnabledFor(logging.DEBUG)
