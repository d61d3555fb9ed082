"""The OAuth core's management commands (docs/commands.md): createclient, rotatekeys, cleartokens."""

from __future__ import annotations

import dataclasses
import io
import json
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from deployment import ScriptConfig
from identity.models import AccessToken, Client, Grant, RefreshToken, Role, SigningKey, User
from identity.provisioning import ADMIN_ROLE
from identity.signing import current_key
from tests.support.commands import assert_failed, manage
from tests.support.oauth import (
    DEMO,
    REDIRECT_URI,
    error_of,
    issue,
    password_grant,
    refresh_grant,
    revoke,
    stored,
    stored_refresh,
)
from tests.support.server import RunningServer
from tests.support.worlds import oauth_world

pytestmark = [pytest.mark.django_db, pytest.mark.long(6)]


@pytest.fixture(scope="module")
def world(build_once):
    return build_once(oauth_world)


@pytest.fixture
def scripts(deployment_override):
    """Register two introspection scripts in [[oauth.introspect.script]] (their names are all
    createclient checks)."""
    oauth = settings.DEPLOYMENT.oauth
    registered = tuple(
        ScriptConfig(name=name, callable=f"docs.examples:{name}") for name in ("department", "audit")
    )
    deployment_override(
        oauth=dataclasses.replace(oauth, introspect=dataclasses.replace(oauth.introspect, script=registered))
    )


def run(name: str, *args: str) -> str:
    """Run a command in-process; return its stdout."""
    out = io.StringIO()
    call_command(name, *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def createclient(*args: str) -> dict:
    """Run createclient; check that stdout is exactly one JSON object and return it."""
    out = run("createclient", *args)
    assert out.endswith("\n") and out.count("\n") == 1
    result = json.loads(out)
    assert set(result) == {"client_id", "client_secret"}
    return result


BASE = ["--tenant", "foo.com", "--name", "A client"]
CC = ["--grant-types", "client_credentials"]
CODE = ["--grant-types", "authorization_code"]


def foo_client(client_id: str) -> Client:
    return Client.objects.all_tenants().get(tenant__domain="foo.com", client_id=client_id)


class TestCreateClient:
    """Every option of the command (docs/commands.md), JSON on stdout."""

    @pytest.mark.parametrize(
        "uri", ["http://127.0.0.1:8400/cb", "http://[::1]/cb", "http://localhost:3000/cb"]
    )
    def test_plain_http_redirect_to_a_loopback_host(self, world, uri):
        """Native apps (RFC 8252 §7.3) keep plain http, to their own machine only."""
        result = createclient(*BASE, *CODE, "--client-id", "native", "--redirect-uris", uri)
        assert foo_client(result["client_id"]).redirect_uris == uri

    def test_every_option(self, world, scripts):
        result = createclient(
            "--tenant", "foo.com",
            "--name", "Everything",
            "--grant-types", "authorization_code", "client_credentials", "password", "refresh_token",
            "--client-id", "everything",
            "--client-secret", "a-secret-of-my-own",
            "--owner", "alice",
            "--scopes", "test1", "test2",
            "--redirect-uris", REDIRECT_URI, "https://app.example/other",
            "--audiences", "https://api.example",
            "--token-format", "jwt",
            "--scripts", "audit", "department",
            "--run-scripts-before-jwt",
            "--use-tenant-domain-in-subject",
            "--use-user-store-domain-in-subject",
        )  # fmt: skip
        assert result == {"client_id": "everything", "client_secret": "a-secret-of-my-own"}
        client = foo_client("everything")
        assert client.name == "Everything"
        assert client.client_type == Client.CLIENT_CONFIDENTIAL
        assert client.user.qualified_name == "alice@foo.com"
        assert client.grant_types == ["authorization_code", "client_credentials", "password", "refresh_token"]
        assert client.allowed_scopes == ["test1", "test2"]
        assert client.redirect_uris.split() == [REDIRECT_URI, "https://app.example/other"]
        assert client.audiences == ["https://api.example"]
        assert client.token_format == "jwt"
        assert client.introspection_scripts == ["audit", "department"]  # in the order given
        assert client.run_introspection_script_before_jwt_creation
        assert client.use_tenant_domain_in_local_subject_identifier
        assert client.use_user_store_domain_in_local_subject_identifier
        assert check_password("a-secret-of-my-own", client.client_secret)

    def test_defaults(self, world):
        result = createclient(
            "--tenant", "foo.com", "--name", "Minimal", "--grant-types", "client_credentials"
        )
        client = foo_client(result["client_id"])
        assert len(result["client_id"]) >= 20
        assert len(result["client_secret"]) >= 40  # generated, full entropy
        assert client.user == User.objects.for_tenant(world.foo).get(username="admin")
        assert client.client_type == Client.CLIENT_CONFIDENTIAL
        assert client.token_format == "opaque"
        assert (client.allowed_scopes, client.audiences, client.introspection_scripts) == ([], [], [])
        assert not client.run_introspection_script_before_jwt_creation
        assert not client.use_tenant_domain_in_local_subject_identifier
        assert not client.use_user_store_domain_in_local_subject_identifier

    def test_default_owner_is_the_admin_named_when_the_tenant_was_created(self, world):
        """Regression: the default owner was the first user holding a role *named* "admin": with
        the admin's role renamed and a role called "admin" given to another user, that user
        owned the client (and its tokens acted for it)."""
        Role.objects.for_tenant(world.foo).filter(name=ADMIN_ROLE).update(name="administrators")
        impostor = Role.objects.create(tenant=world.foo, name=ADMIN_ROLE, permissions=[])
        User.objects.for_tenant(world.foo).get(username="alice").roles.add(impostor)
        result = createclient(*BASE, *CC)
        assert foo_client(result["client_id"]).user.username == "admin"

    def test_without_an_admin_on_record_the_owner_must_be_named(self, world):
        """A tenant whose admin was deleted has no default owner: the command asks for one."""
        User.objects.for_tenant(world.foo).filter(username="admin").delete()
        with pytest.raises(CommandError) as raised:
            run("createclient", *BASE, *CC)
        assert "give --owner" in str(raised.value)
        result = createclient(*BASE, *CC, "--owner", "alice")
        assert foo_client(result["client_id"]).user.username == "alice"

    @pytest.mark.parametrize(
        "args",
        [
            "--grant-types client_credentials password --scopes a b c",
            "--grant-types client_credentials --grant-types password --scopes a --scopes b c",
            "--grant-types client_credentials --scopes a --grant-types password --scopes b --scopes c",
            # Repeated values count once.
            "--grant-types client_credentials password password --scopes a b a c",
        ],
    )
    def test_space_separated_and_repeated_values(self, world, args):
        result = createclient("--tenant", "foo.com", "--name", "Lists", *args.split())
        client = foo_client(result["client_id"])
        assert client.grant_types == ["client_credentials", "password"]
        assert client.allowed_scopes == ["a", "b", "c"]

    def test_generated_secret_works_at_the_token_endpoint(self, client, world):
        result = createclient(
            "--tenant",
            "foo.com",
            "--name",
            "Fresh",
            "--grant-types",
            "client_credentials",
            "--scopes",
            "read",
        )
        credentials = (result["client_id"], result["client_secret"])
        body = issue(client, "foo.com", {"grant_type": "client_credentials", "scope": "read"}, credentials)
        assert body["scope"] == "read"
        assert stored(body["access_token"]).application == foo_client(result["client_id"])

    def test_public_client_has_no_secret(self, world):
        result = createclient(*BASE, "--public", *CODE, "--redirect-uris", REDIRECT_URI)
        assert result["client_secret"] is None
        assert foo_client(result["client_id"]).client_type == Client.CLIENT_PUBLIC

    def test_same_client_id_in_another_tenant(self, world):
        result = createclient("--tenant", "bar.com", "--name", "Demo", "--client-id", DEMO[0], *CC)
        assert result["client_id"] == DEMO[0]
        assert Client.objects.all_tenants().filter(client_id=DEMO[0]).count() == 3


class TestCreateClientRefuses:
    """Bad input: a CommandError naming the problem, and no client (nor anything else) created."""

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["--tenant", "nope.com", "--name", "x", *CC], "tenant 'nope.com' does not exist"),
            (["--tenant", "foo\x00.com", "--name", "x", *CC], "tenant 'foo\x00.com' does not exist"),
            ([*BASE, "--grant-types", "implicit"], "unknown grant type(s) implicit"),
            ([*BASE, *CC, "device_code"], "unknown grant type(s) device_code"),
            (BASE, "give --grant-types"),
            ([*BASE, *CC, "--client-id", DEMO[0]], f"client id '{DEMO[0]}' already exists in tenant foo.com"),
            ([*BASE, *CC, "--owner", "nobody"], "no user 'nobody' in tenant foo.com"),
            ([*BASE, *CC, "--owner", "admin@carbon.super"], "no user 'admin@carbon.super' in tenant foo.com"),
            ([*BASE, *CC, "--scripts", "nosuch"], "no [[oauth.introspect.script]] named nosuch"),
            ([*BASE, *CC, "--public"], "a public client cannot use client_credentials"),
            ([*BASE, *CODE, "--public", "--client-secret", "s"], "a --public client has no secret"),
            ([*BASE, *CODE], "needs at least one redirect URI"),
            ([*BASE, *CODE, "--redirect-uris", "https://a.example/#frag"], "redirect_uris: not an absolute"),
            # Decided with the security audit: plain http only to a loopback host (RFC 8252 §7.3).
            ([*BASE, *CODE, "--redirect-uris", "http://a.example/cb"], "redirect_uris: not an absolute"),
            ([*BASE, *CODE, "--redirect-uris", "http://10.0.0.1/cb"], "redirect_uris: not an absolute"),
            ([*BASE, *CC, "--scopes", ""], "allowed_scopes"),
            ([*BASE, *CC, "--token-format", "xml"], "invalid choice: 'xml'"),
        ],
    )
    def test_refused(self, world, scripts, args, message):
        before = {model: model.objects.all_tenants().count() for model in (Client, User, SigningKey)}
        with pytest.raises(CommandError) as raised:
            run("createclient", *args)
        assert message in str(raised.value)
        assert {model: model.objects.all_tenants().count() for model in before} == before


class TestCommandLine:
    """What an operator sees: exit status, JSON on stdout, errors on stderr (run in this process
    as manage.py runs a command; TestManagePy runs the real process)."""

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["--tenant", "nope.com", "--name", "x", *CC], "tenant 'nope.com' does not exist"),
            ([*BASE, "--grant-types", "implicit"], "unknown grant type(s) implicit"),
            ([*BASE, *CC, "--client-id", DEMO[0]], "already exists in tenant foo.com"),
        ],
    )
    def test_failure_exits_non_zero_with_the_error_on_stderr(self, world, args, message):
        assert_failed(manage("createclient", *args), message)

    def test_a_value_the_database_cannot_store_is_a_clear_error(self, world):
        """Regression (PostgreSQL, whose text refuses NUL): a NUL in --name reached the INSERT and
        the command died with DataError's traceback. SQLite stores it."""
        args = ["--tenant", "foo.com", "--name", "a\x00b", *CC, "--client-id", "nul"]
        if connection.vendor == "postgresql":
            assert_failed(manage("createclient", *args), "client not created: ")
            assert not Client.objects.all_tenants().filter(client_id="nul").exists()
        else:
            assert manage("createclient", *args).returncode == 0

    def test_nothing_half_created(self, world):
        args = [*BASE, *CC, "--client-id", "fresh"]
        failed = manage("createclient", *args, "--owner", "nobody")
        assert failed.returncode != 0
        # Had a client been left behind, the same id would now be a duplicate.
        done = manage("createclient", *args)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["client_id"] == "fresh"

    def test_success_prints_json_only(self, world):
        assert_prints_credentials(manage(*CREATE_PASSWORD_CLIENT))

    def test_rotatekeys_unknown_tenant(self, world):
        done = manage("rotatekeys", "--tenant", "nope.com")
        assert done.returncode != 0
        assert "tenant 'nope.com' does not exist" in done.stderr


CREATE_PASSWORD_CLIENT = ("createclient", "--tenant", "foo.com", "--name", "Ok", "--grant-types", "password")


def assert_prints_credentials(done) -> None:
    """Exit status 0 and nothing on stdout but the new client's credentials, as JSON."""
    assert done.returncode == 0, done.stderr
    assert set(json.loads(done.stdout)) == {"client_id", "client_secret"}


@pytest.fixture(scope="module")
def cli(tmp_path_factory):
    """A migrated, bootstrapped deployment (demo data) to run manage.py against, as an operator does."""
    deployment = RunningServer(tmp_path_factory.mktemp("cli"), "[demo]\nenabled = true\n")
    try:
        deployment.prepare()
        yield deployment
    finally:
        deployment.database.drop()


class TestManagePy:
    """The same through a real ``manage.py`` process, once each way: the exit status and the two
    streams as a shell sees them, with the product's settings and a deployment's database."""

    def test_failure(self, cli):
        done = cli.manage("createclient", "--tenant", "nope.com", "--name", "x", *CC, check=False)
        assert_failed(done, "tenant 'nope.com' does not exist")

    def test_success(self, cli):
        assert_prints_credentials(cli.manage(*CREATE_PASSWORD_CLIENT))


class TestRotateKeys:
    def test_new_key_signs_and_old_key_is_retired(self, world):
        old = current_key(world.foo)
        out = run("rotatekeys", "--tenant", "foo.com")
        new = current_key(world.foo)
        assert out == f"tenant foo.com now signs with RS256 key {new.kid}\n"
        old.refresh_from_db()
        assert not old.active
        assert old.publish_until > timezone.now()
        assert current_key(world.super).active  # other tenants keep theirs

    def test_algorithm(self, world):
        out = run("rotatekeys", "--tenant", "foo.com", "--algorithm", "ES256")
        assert current_key(world.foo).algorithm == "ES256"
        assert "ES256" in out

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["--tenant", "nope.com"], "tenant 'nope.com' does not exist"),
            (["--tenant", "foo.com", "--algorithm", "HS256"], "invalid choice: 'HS256'"),
            ([], "--tenant"),
        ],
    )
    def test_refused(self, world, args, message):
        before = SigningKey.objects.all_tenants().count()
        with pytest.raises(CommandError) as raised:
            run("rotatekeys", *args)
        assert message in str(raised.value)
        assert SigningKey.objects.all_tenants().count() == before

    def test_refused_past_the_limit(self, world, deployment_override):
        """Regression: rotations had no limit, and each kept a key in the JWKS for a token lifetime."""
        oauth = settings.DEPLOYMENT.oauth
        deployment_override(oauth=dataclasses.replace(oauth, max_published_signing_keys=2))
        run("rotatekeys", "--tenant", "foo.com")
        current = current_key(world.foo)
        with pytest.raises(CommandError, match=r"foo.com .*at most 2 .*max_published_signing_keys"):
            run("rotatekeys", "--tenant", "foo.com")
        assert current_key(world.foo) == current


def expire(model, pk: int) -> None:
    model.objects.all_tenants().filter(pk=pk).update(expires=timezone.now() - timedelta(seconds=1))


class TestClearTokens:
    """Expired tokens and codes go, of every tenant; live ones and what they need stay."""

    def test_deletes_expired_and_keeps_active(self, client, world):
        active = stored(issue(client, "foo.com", {"grant_type": "client_credentials"})["access_token"])
        expired = stored(issue(client, "foo.com", {"grant_type": "client_credentials"})["access_token"])
        expired_super = stored(
            issue(client, "carbon.super", {"grant_type": "client_credentials"})["access_token"]
        )
        for row in (expired, expired_super):
            expire(AccessToken, row.pk)
        revoked_token = issue(client, "foo.com", {"grant_type": "client_credentials"})["access_token"]
        revoke(client, revoked_token)

        out = run("cleartokens")

        remaining = set(AccessToken.objects.all_tenants().values_list("pk", flat=True))
        assert active.pk in remaining
        assert stored(revoked_token).pk in remaining  # revoked: listed as such until it expires
        assert not {expired.pk, expired_super.pk} & remaining
        assert "deleted 2 access tokens" in out

    def test_refresh_tokens(self, client, world):
        live = password_grant(client)
        expired = password_grant(client)
        expire(RefreshToken, stored_refresh(expired["refresh_token"]).pk)
        expire(AccessToken, stored(expired["access_token"]).pk)
        rotated = password_grant(client)
        refresh_grant(client, rotated["refresh_token"])  # the old one: revoked, kept for reuse detection

        run("cleartokens")

        assert stored_refresh(live["refresh_token"]).is_active()
        assert stored_refresh(rotated["refresh_token"]).revoked is not None
        with pytest.raises(RefreshToken.DoesNotExist):
            stored_refresh(expired["refresh_token"])
        with pytest.raises(AccessToken.DoesNotExist):
            stored(expired["access_token"])
        # A replay of the rotated token is still caught.
        assert error_of(refresh_grant(client, rotated["refresh_token"])) == "invalid_grant"

    def test_live_refresh_token_survives_its_expired_access_token(self, client, world):
        """The refresh grant needs the access token row: deleting it made the refresh token an
        orphan the toolkit refuses."""
        tokens = password_grant(client)
        expire(AccessToken, stored(tokens["access_token"]).pk)
        run("cleartokens")
        response = refresh_grant(client, tokens["refresh_token"])
        assert response.status_code == 200, response.content
        assert stored(response.json()["access_token"]).user.qualified_name == "alice@foo.com"

    def test_authorization_codes(self, world):
        web = foo_client("webapp")
        alice = User.objects.for_tenant(world.foo).get(username="alice")
        now = timezone.now()
        for code, expires in (("old", now - timedelta(seconds=1)), ("new", now + timedelta(seconds=60))):
            Grant.objects.create(
                application=web, user=alice, code=code, expires=expires, redirect_uri=REDIRECT_URI
            )
        out = run("cleartokens")
        assert list(Grant.objects.all_tenants().values_list("code", flat=True)) == ["new"]
        assert "deleted 1 authorization codes" in out
