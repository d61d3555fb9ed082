"""Introspection scripts (docs/scripts.md, Janssen's IntrospectionType): order, binding, failures,
protected claims, context, JWT access tokens, start-up checks, and the example of the docs."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from io import StringIO
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError

from deployment import REPO_ROOT, check_command, loads
from deployment.reload import script_problem
from identity.bootstrap import bootstrap
from identity.models import Client, Role, User
from identity.oauth.scripts import PROTECTED_CLAIMS, load_scripts
from identity.provisioning import create_user
from tenants.models import Tenant
from tests import script_hooks
from tests.support.api import admin_of, call
from tests.support.auth import basic_auth, bearer_auth
from tests.support.jwt import (
    ACCESS_TOKEN_TYP,
    RESPONSE_TYP,
    SUPER,
    introspect,
    issuer_of,
    json_of,
    jwt_client,
    verify,
)
from tests.support.oauth import DEMO, issue, revoke, stored

pytestmark = [pytest.mark.django_db, pytest.mark.long(5)]

ADMIN = basic_auth("admin@foo.com", "admin")
LOGGER = "identity.oauth.scripts"


def secret(client_id: str) -> str:
    return f"{client_id}-secret-0123456789"


@pytest.fixture(scope="module")
def world(build_once):
    def make():
        bootstrap()
        foo = Tenant.objects.get(domain="foo.com")
        create_user(foo, "alice", "alice-pw")
        carol = create_user(foo, "carol", "carol-pw")
        carol.roles.add(Role.objects.create(tenant=foo, name="finance"))
        rita = create_user(foo, "rita", "rita-pw")
        rita.email = "rita@Research.example.com"
        rita.save(update_fields=["email"])
        grants = ["client_credentials", "password", "refresh_token"]
        for client_id, token_format in (("bound", "opaque"), ("unbound", "opaque"), ("jwt-app", "jwt")):
            jwt_client(
                foo,
                client_id,
                client_secret=secret(client_id),
                token_format=token_format,
                grant_types=grants,
                scopes=["test1", "test2", "internal_oauth2_introspect"],
            )
        jwt_client(foo, "orphan", client_secret=secret("orphan"), token_format="opaque")
        foo.clients.filter(client_id="orphan").update(user=None)
        return SimpleNamespace(foo=foo)

    return build_once(make)


@pytest.fixture(autouse=True)
def _no_calls():
    script_hooks.CALLS.clear()
    yield
    script_hooks.CALLS.clear()


def script_entries(*names: str, module: str = "tests.script_hooks") -> str:
    """``[[oauth.introspect.script]]`` entries named like their callables, in this order."""
    return "".join(
        f'\n[[oauth.introspect.script]]\nname = "{name}"\ncallable = "{module}:{name}"\n' for name in names
    )


@pytest.fixture
def scripts(deployment_override):
    """Return ``configure(*names, backward=False, toml="")``: run the test with these scripts."""

    def configure(*names: str, backward: bool = False, toml: str = ""):
        text = f"[oauth.introspect]\nscript_backward_compatibility = {str(backward).lower()}\n"
        text += script_entries(*names) + toml
        deployment = loads(text + '\n[super_admin]\npassword = "pw"\n')
        return deployment_override(oauth=deployment.oauth)

    return configure


def bind(client_id: str, *names: str, before_jwt: bool = False) -> None:
    """Bind scripts to a client of foo.com (as the admin or ``createclient --scripts`` does)."""
    tenant = Tenant.objects.get(domain="foo.com")
    # save(), not update(): the introspection endpoint caches clients, and a save tells it.
    client = Client.objects.for_tenant(tenant).get(client_id=client_id)
    client.introspection_scripts = list(names)
    client.run_introspection_script_before_jwt_creation = before_jwt
    client.save()


def app_token(client, client_id: str = "bound", **data) -> str:
    body = issue(
        client, "foo.com", {"grant_type": "client_credentials", **data}, (client_id, secret(client_id))
    )
    return body["access_token"]


def user_token(client, username: str, password: str, client_id: str = "bound", **data) -> dict:
    data = {"grant_type": "password", "username": username, "password": password, **data}
    return issue(client, "foo.com", data, (client_id, secret(client_id)))


def introspected(client, token: str, headers: dict = ADMIN, **data) -> dict:
    return json_of(introspect(client, "foo.com", {"token": token, **data}, headers))


def ran() -> list[str]:
    return [name for name, _ in script_hooks.CALLS]


def records(caplog, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno == level]


class TestOrder:
    """Scripts run in deployment.toml's order, whatever order a client lists them in."""

    def test_listed_order(self, client, world, scripts):
        scripts("first", "second", "third")
        bind("bound", "third", "first")
        assert introspected(client, app_token(client))["ran"] == ["first", "third"]

    def test_reordered_file(self, client, world, scripts):
        scripts("third", "second", "first")
        bind("bound", "first", "second", "third")
        assert introspected(client, app_token(client))["ran"] == ["third", "second", "first"]


class TestBinding:
    """Per client, unless script_backward_compatibility runs them all for every client."""

    def test_only_for_bound_clients(self, client, world, scripts):
        scripts("first", "second")
        bind("bound", "second")
        assert introspected(client, app_token(client, "bound"))["ran"] == ["second"]
        assert "ran" not in introspected(client, app_token(client, "unbound"))
        assert ran() == ["second"]

    def test_backward_compatibility_runs_all_for_every_client(self, client, world, scripts):
        scripts("first", "second", backward=True)
        bind("bound", "second")
        for client_id in ("bound", "unbound"):
            assert introspected(client, app_token(client, client_id))["ran"] == ["first", "second"]
        demo_token = issue(client, "foo.com", {"grant_type": "client_credentials"}, DEMO)["access_token"]
        assert introspected(client, demo_token)["ran"] == ["first", "second"]

    def test_createclient_binds(self, client, world, scripts):
        scripts("first", "second", "third")
        out = StringIO()
        call_command(
            "createclient", "--tenant", "foo.com", "--name", "cli", "--grant-types", "client_credentials",
            "--client-id", "cli", "--client-secret", secret("cli"), "--scripts", "third", "second",
            stdout=out,
        )  # fmt: skip
        assert '"client_id": "cli"' in out.getvalue()
        assert introspected(client, app_token(client, "cli"))["ran"] == ["second", "third"]

    def test_createclient_refuses_an_unknown_script(self, world, scripts):
        scripts("first")
        with pytest.raises(CommandError, match=re.escape("no [[oauth.introspect.script]] named nosuch")):
            call_command(
                "createclient", "--tenant", "foo.com", "--name", "cli", "--grant-types", "client_credentials",
                "--scripts", "first", "nosuch", stdout=StringIO(),
            )  # fmt: skip
        assert not Client.objects.for_tenant(world.foo).filter(name="cli").exists()


class TestTenantsOfAScript:
    """``tenants`` of ``[[oauth.introspect.script]]``: the only tenants whose clients bind and
    run the script. Regression: every tenant admin could bind any configured script to its own
    clients, a script written for another tenant included, and run it on its own tokens."""

    BAR_ONLY = script_entries("third") + 'tenants = ["bar.com"]\n'

    @pytest.mark.parametrize("backward", [False, True])
    def test_not_run_for_other_tenants(self, client, world, scripts, backward):
        scripts("first", backward=backward, toml=self.BAR_ONLY)
        bind("bound", "first", "third")  # bound before the file named its tenants
        assert introspected(client, app_token(client))["ran"] == ["first"]
        scripts("first", backward=backward, toml=self.BAR_ONLY.replace("bar.com", "foo.com"))
        assert introspected(client, app_token(client))["ran"] == ["first", "third"]

    def test_not_bound_by_the_api_nor_createclient(self, client, world, scripts):
        scripts("first", toml=self.BAR_ONLY)
        patch = call(client, "PATCH", "foo.com", "clients/bound", admin_of("foo.com"), {"scripts": ["third"]})
        assert patch.status_code == 400, patch.content
        assert patch.json()["invalid-params"][0]["name"] == "scripts"
        assert Client.objects.for_tenant(world.foo).get(client_id="bound").introspection_scripts == []
        with pytest.raises(CommandError, match=re.escape("no [[oauth.introspect.script]] named third")):
            call_command(
                "createclient", "--tenant", "foo.com", "--name", "cli", "--grant-types", "client_credentials",
                "--scripts", "third", stdout=StringIO(),
            )  # fmt: skip

    def test_not_offered_nor_taken_by_the_admin(self, client, world, scripts):
        scripts("first", toml=self.BAR_ONLY)
        bound = Client.objects.for_tenant(world.foo).get(client_id="bound")
        client.force_login(User.objects.for_tenant(world.foo).get(username="admin"))
        page = f"/admin/identity/client/{bound.pk}/change/"
        form = client.get(page, secure=True).context["adminform"].form
        assert [name for name, _ in form.fields["introspection_scripts"].choices] == ["first"]
        data = {**form.initial, "introspection_scripts": ["third"], "user": bound.user_id}
        data = {key: value for key, value in data.items() if value is not None}
        response = client.post(page, data, secure=True)
        assert "introspection_scripts" in response.context["adminform"].form.errors
        bound.refresh_from_db()
        assert bound.introspection_scripts == []


class TestFailures:
    """A script that returns False or raises: the unmodified response is sent, the error logged."""

    def plain(self, client, token: str, scripts) -> dict:
        scripts()
        return introspected(client, token)

    def test_returns_false(self, client, world, scripts, caplog):
        token = app_token(client)
        plain = self.plain(client, token, scripts)
        scripts("first", "refuse", "second")
        bind("bound", "first", "refuse", "second")
        with caplog.at_level(logging.WARNING, logger=LOGGER):
            assert introspected(client, token) == plain
        assert ran() == ["first", "refuse"]
        assert any("'refuse'" in message for message in records(caplog, logging.WARNING))

    @pytest.mark.parametrize(("script", "raised"), [("explode", RuntimeError), ("exit_process", SystemExit)])
    def test_raises(self, client, world, scripts, caplog, script, raised):
        """Regression (``exit_process``): ``sys.exit()`` in a script (SystemExit is no
        ``Exception``) went through Django's handlers, and gunicorn answered its HTML 500."""
        token = app_token(client)
        plain = self.plain(client, token, scripts)
        scripts("first", script, "second")
        bind("bound", "first", script, "second")
        with caplog.at_level(logging.WARNING, logger=LOGGER):
            assert introspected(client, token) == plain
        assert ran() == ["first", script]
        (error,) = [r for r in caplog.records if r.name == LOGGER and r.levelno == logging.ERROR]
        assert f"'{script}'" in error.getMessage()
        assert error.exc_info[0] is raised  # the traceback is logged
        assert token not in caplog.text  # tokens never reach logs (docs/security.md)

    def test_raises_in_a_jwt_response(self, client, world, scripts):
        token = app_token(client)
        plain = self.plain(client, token, scripts)
        scripts("explode")
        bind("bound", "explode")
        response = introspect(client, "foo.com", {"token": token, "response_as_jwt": "true"}, ADMIN)
        assert (
            verify(client, "foo.com", response.content.decode(), RESPONSE_TYP).claims["token_introspection"]
            == plain
        )

    @pytest.mark.parametrize("script", ["not_json", "nest_deep"])
    @pytest.mark.parametrize("as_jwt", [False, True])
    def test_value_json_cannot_hold(self, client, world, scripts, caplog, as_jwt, script):
        """Regression: a script adding a value JSON cannot encode made introspection answer 500;
        so did one nested past Python's recursion limit (the JSON check itself raised
        RecursionError)."""
        token = app_token(client)
        plain = self.plain(client, token, scripts)
        scripts("first", script)
        bind("bound", "first", script)
        with caplog.at_level(logging.ERROR, logger=LOGGER):
            response = introspect(client, "foo.com", {"token": token, "response_as_jwt": str(as_jwt)}, ADMIN)
        assert response.status_code == 200
        if as_jwt:
            body = verify(client, "foo.com", response.content.decode(), RESPONSE_TYP).claims[
                "token_introspection"
            ]
        else:
            body = json_of(response)
        assert body == plain
        assert any(f"'{script}'" in message for message in records(caplog, logging.ERROR))

    @pytest.mark.parametrize(("script", "claim"), [("not_json", "when"), ("nest_deep", "nested")])
    def test_value_json_cannot_hold_at_issuance(self, client, world, scripts, script, claim):
        """Regression: the same scripts made the token endpoint answer 500 for a JWT client."""
        scripts(script)
        bind("jwt-app", script, before_jwt=True)
        claims = verify(client, "foo.com", app_token(client, "jwt-app"), ACCESS_TOKEN_TYP).claims
        assert claim not in claims

    def test_no_return_is_not_a_failure(self, client, world, scripts):
        """Only False refuses (docs/scripts.md)."""
        scripts("no_return")
        bind("bound", "no_return")
        assert introspected(client, app_token(client))["ran"] == ["no_return"]


class TestProtectedClaims:
    """active, iss, exp, iat, client_id, token_type: a change is undone and logged; the
    script's other changes stand."""

    @pytest.mark.parametrize("script", ["tamper", "strip"])
    def test_undone(self, client, world, scripts, caplog, script):
        token = app_token(client)
        scripts()
        plain = introspected(client, token)
        scripts(script)
        bind("bound", script)
        with caplog.at_level(logging.WARNING, logger=LOGGER):
            body = introspected(client, token)
        for claim in PROTECTED_CLAIMS:
            assert body[claim] == plain[claim], claim
        assert body["extra"] == "stands"
        assert body["ran"] == [script]
        warnings = records(caplog, logging.WARNING)
        for claim in PROTECTED_CLAIMS:
            assert any(f"'{script}'" in m and f"'{claim}'" in m for m in warnings), claim

    def test_another_type_is_a_change(self, client, world, scripts, caplog):
        """Regression: ``"active": 1`` and a float ``exp`` compared equal to ``true`` and the
        integer, so a script changed the type of protected claims (RFC 7662 §2.2: a boolean)."""
        token = app_token(client)
        scripts()
        plain = introspected(client, token)
        scripts("retype")
        bind("bound", "retype")
        with caplog.at_level(logging.WARNING, logger=LOGGER):
            body = introspected(client, token)
        assert body["active"] is True
        assert (type(body["exp"]), type(body["iat"])) == (int, int)
        assert {claim: body[claim] for claim in plain} == plain
        assert any("'active'" in m for m in records(caplog, logging.WARNING))
        bind("jwt-app", "retype", before_jwt=True)
        claims = verify(client, "foo.com", app_token(client, "jwt-app"), ACCESS_TOKEN_TYP).claims
        assert (type(claims["exp"]), type(claims["iat"])) == (int, int)

    def test_unprotected_changes_stand(self, client, world, scripts):
        """jti is not in the SPEC's list: at introspection a script may change it."""
        scripts("tamper")
        bind("bound", "tamper")
        assert introspected(client, app_token(client))["jti"] == "tampered"


class TestContext:
    """The context gives the tenant, the token (client, user, scopes), the caller, the request."""

    def test_user_token_user_caller(self, client, world, scripts):
        scripts("first")
        bind("bound", "first")
        body = user_token(client, "alice", "alice-pw", scope="test1 test2")
        response = introspected(client, body["access_token"])
        ((_, context),) = script_hooks.CALLS
        assert context.tenant.domain == "foo.com"
        assert context.client.client_id == "bound"
        assert context.user.username == "alice"
        assert context.scopes == ("test1", "test2")
        assert str(context.token.jti) == response["jti"]
        assert (context.caller.kind, context.caller.name) == ("user", "admin@foo.com")
        assert context.request.method == "POST"
        assert context.request.path == "/t/foo.com/oauth2/introspect"

    def test_app_token_bearer_caller(self, client, world, scripts):
        scripts("first")
        bind("bound", "first")
        caller = app_token(client, "unbound", scope="internal_oauth2_introspect")
        introspected(client, app_token(client), bearer_auth(caller))
        ((_, context),) = script_hooks.CALLS
        # an app token acts as the client's owner (docs/clients-and-grants.md)
        assert context.user.username == "admin"
        assert context.scopes == ()
        assert (context.caller.kind, context.caller.name) == ("bearer", "unbound")

    def test_refresh_token(self, client, world, scripts):
        scripts("first")
        bind("bound", "first")
        refresh = user_token(client, "alice", "alice-pw", scope="test1")["refresh_token"]
        body = introspected(client, refresh, token_type_hint="refresh_token")
        assert (body["token_type"], body["ran"]) == ("Refresh", ["first"])
        ((_, context),) = script_hooks.CALLS
        assert context.scopes == ("test1",)


class TestContextIsTheScripts:
    """Regression: a script was given the process cache's own tenant, client, user and token,
    which every later request of the process reads; a script that changed one (a client's
    ``client_id``, a token's ``expires``) changed what introspection answered for them from then
    on, for other clients' tokens of the tenant too. A script now gets copies of its own."""

    def test_changes_reach_no_later_answer(self, client, world, scripts):
        scripts("vandalize")
        bind("bound", "vandalize")
        token = user_token(client, "alice", "alice-pw", scope="test1")["access_token"]
        other = app_token(client, "unbound", scope="test2")
        first, other_first = introspected(client, token), introspected(client, other)
        assert ran() == ["vandalize"]
        assert introspected(client, token) == first
        assert introspected(client, other) == other_first
        assert ran() == ["vandalize", "vandalize"]
        assert (first["client_id"], first["username"], first["scope"]) == ("bound", "alice@foo.com", "test1")
        assert first["iss"] == issuer_of("foo.com")
        (_, context), _ = script_hooks.CALLS
        # The copies still refer to one another, as the objects they copy did.
        assert context.token.application is context.client and context.token.user is context.user

    def test_changes_reach_no_later_token(self, client, world, scripts):
        """At issuance the client and user are the token request's own; copied all the same."""
        scripts("vandalize")
        bind("jwt-app", "vandalize", before_jwt=True)
        claims = [
            verify(client, "foo.com", app_token(client, "jwt-app", scope="test1"), ACCESS_TOKEN_TYP).claims
            for _ in range(2)
        ]
        assert [(c["client_id"], c["iss"], c["scope"]) for c in claims] == [
            ("jwt-app", issuer_of("foo.com"), "test1")
        ] * 2


class TestInactiveTokens:
    """Scripts run for active tokens only: an inactive answer stays ``{"active": false}``."""

    @pytest.mark.parametrize("case", ["unknown", "revoked", "other tenant"])
    def test_not_run(self, client, world, scripts, case):
        scripts("first", backward=True)
        if case == "unknown":
            token = "no-such-token"
        elif case == "revoked":
            token = app_token(client)
            assert revoke(client, token, ("bound", secret("bound"))).status_code == 200
        else:
            token = issue(client, SUPER, {"grant_type": "client_credentials"}, DEMO)["access_token"]
        assert introspected(client, token) == {"active": False}
        assert script_hooks.CALLS == []


class TestBeforeJwtCreation:
    """With run_introspection_script_before_jwt_creation, the scripts' claims go in the JWT."""

    def test_claims_in_the_jwt(self, client, world, scripts):
        scripts("first", "tamper")
        bind("jwt-app", "first", "tamper", before_jwt=True)
        token = app_token(client, "jwt-app", scope="test1")
        claims = verify(client, "foo.com", token, ACCESS_TOKEN_TYP).claims
        assert (claims["ran"], claims["extra"]) == (["first", "tamper"], "stands")
        # What makes the token what it is cannot be changed; nor can claims be added that
        # only an introspection response has.
        row = stored(token)
        assert claims["jti"] == str(row.jti)
        assert claims["iss"] == issuer_of("foo.com")
        assert claims["client_id"] == "jwt-app"
        assert claims["iat"] == int(row.created.timestamp())
        assert claims["exp"] == int(row.expires.timestamp()) == claims["iat"] + 3600
        assert "active" not in claims
        assert "token_type" not in claims
        # Introspection answers for the token it recorded (tamper, run again, may change jti).
        bind("jwt-app", "first", before_jwt=True)
        body = introspected(client, token)
        assert (body["active"], body["jti"], body["client_id"]) == (True, claims["jti"], "jwt-app")

    def test_context_at_issuance(self, client, world, scripts):
        scripts("first")
        bind("jwt-app", "first", before_jwt=True)
        user_token(client, "alice", "alice-pw", client_id="jwt-app", scope="test2")
        ((_, context),) = script_hooks.CALLS
        assert (context.tenant.domain, context.client.client_id) == ("foo.com", "jwt-app")
        assert (context.user.username, context.scopes) == ("alice", ("test2",))
        assert (context.token, context.caller, context.request) == (None, None, None)

    def test_not_before_creation_without_the_flag(self, client, world, scripts):
        scripts("first")
        bind("jwt-app", "first", before_jwt=False)
        token = app_token(client, "jwt-app")
        assert "ran" not in verify(client, "foo.com", token, ACCESS_TOKEN_TYP).claims
        assert introspected(client, token)["ran"] == ["first"]

    def test_failure_at_issuance_issues_the_plain_jwt(self, client, world, scripts, caplog):
        scripts("first", "explode")
        bind("jwt-app", "first", "explode", before_jwt=True)
        with caplog.at_level(logging.ERROR, logger=LOGGER):
            token = app_token(client, "jwt-app")
        claims = verify(client, "foo.com", token, ACCESS_TOKEN_TYP).claims
        assert "ran" not in claims
        assert "exploded" not in claims
        assert any("'explode'" in message for message in records(caplog, logging.ERROR))
        assert token not in caplog.text

    @pytest.mark.parametrize(
        "script", ["no_audience", "numbered_audience", "no_subject", "numbered_scope", "nul_audience"]
    )
    def test_a_jwt_must_stay_an_rfc9068_token(self, client, world, scripts, caplog, script):
        """Regression: a script deleting ``aud`` (or making it numbers, or putting a NUL in it, on
        PostgreSQL) made the token endpoint answer 500 (the token's row records its audience
        from the JWT); one deleting ``sub`` issued a JWT access token without the claim RFC
        9068 §2.2 requires."""
        scripts("first", script)
        bind("jwt-app", "first", script, before_jwt=True)
        with caplog.at_level(logging.ERROR, logger=LOGGER):
            token = app_token(client, "jwt-app", scope="test1")  # 200, not 500
        claims = verify(client, "foo.com", token, ACCESS_TOKEN_TYP).claims
        assert "ran" not in claims  # every script's changes discarded, as for any failure
        assert (claims["aud"], claims["sub"], claims["scope"]) == ("jwt-app", "jwt-app", "test1")
        assert stored(token).resource == ["jwt-app"]
        assert any(f"'{script}'" in message for message in records(caplog, logging.ERROR))


class TestDocsExample:
    """docs/examples/introspection_script.py, configured as docs/scripts.md shows it."""

    @pytest.fixture
    def documented(self, deployment_override):
        text = (REPO_ROOT / "docs" / "scripts.md").read_text()
        toml = re.search(r"```toml\n(.*?)```", text, re.DOTALL).group(1)
        assert "docs.examples.introspection_script:add_department" in toml
        deployment = loads(toml + '\n[super_admin]\npassword = "pw"\n')
        deployment_override(oauth=deployment.oauth)
        bind("bound", "department", "tenant")

    @pytest.mark.parametrize(
        ("username", "password", "department"),
        [
            ("carol", "carol-pw", "Finance"),  # from her role
            ("admin", "admin", "IT"),
            ("rita", "rita-pw", "Research"),  # from her email domain
            ("alice", "alice-pw", None),
        ],
    )
    def test_user_tokens(self, client, world, documented, username, password, department):
        body = introspected(client, user_token(client, username, password)["access_token"])
        assert body.get("department") == department
        assert body["tenant"] == "foo.com"

    def test_app_tokens(self, client, world, documented):
        assert introspected(client, app_token(client))["department"] == "IT"  # its owner, admin
        bind("orphan", "department", "tenant")
        body = introspected(client, app_token(client, "orphan"))
        assert "department" not in body
        assert body["tenant"] == "foo.com"


def deployment_file(tmp_path, extra_toml: str) -> Path:
    """Write the repository's deployment.toml plus ``extra_toml`` in ``tmp_path``; return its path."""
    toml = tmp_path / "deployment.toml"
    toml.write_text((REPO_ROOT / "deployment.toml").read_text() + extra_toml)
    return toml


def run_manage(tmp_path, extra_toml: str, *args: str) -> subprocess.CompletedProcess:
    """Run ``manage.py *args`` with the repository's deployment.toml plus ``extra_toml``."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "identity.settings",
        "IDENTITY_DEPLOYMENT_TOML": str(deployment_file(tmp_path, extra_toml)),
    }
    argv = [sys.executable, "manage.py", *args]
    return subprocess.run(argv, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)


def broken(callable_path: str) -> str:
    """A script entry named "broken" whose callable is ``callable_path``."""
    return f'\n[[oauth.introspect.script]]\nname = "broken"\ncallable = "{callable_path}"\n'


@pytest.fixture
def checkdeployment(tmp_path, capsys, monkeypatch):
    """Return ``check(extra_toml)``: ``manage.py checkdeployment`` of the repository's file plus
    ``extra_toml``, run in this process as manage.py runs it (its scripts are still imported in a
    child process, as the command does); (exit status, stdout, stderr)."""
    # The child imports the scripts under the product's settings, as it does under manage.py.
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "identity.settings")

    def check(extra_toml: str) -> tuple[int, str, str]:
        code = check_command([str(deployment_file(tmp_path, extra_toml))], script_problem)
        out, err = capsys.readouterr()
        return code, out, err

    return check


class TestStartUp:
    """Bad script configuration stops start-up with a message naming the script (docs/scripts.md).

    Start-up imports the scripts with ``load_scripts`` (introspection.apps): most cases call it
    here; a real ``manage.py check`` shows once each way that start-up stops, or does not.
    """

    @staticmethod
    def refused(extra_toml: str) -> str:
        """The message ``load_scripts`` stops start-up with, for the repository's file plus ``extra_toml``."""
        deployment = loads((REPO_ROOT / "deployment.toml").read_text() + extra_toml)
        with pytest.raises(ImproperlyConfigured) as raised:
            load_scripts(deployment)
        return str(raised.value)

    @pytest.mark.parametrize(
        "callable_path",
        [
            "tests.no_such_module:first",
            "tests.script_hooks:no_such_function",
            "docs.examples.introspection_script:add_departments",
            "tests.script_hooks:NOT_CALLABLE",
        ],
    )
    def test_bad_callable(self, callable_path):
        message = self.refused(broken(callable_path))
        assert "'broken'" in message
        assert f"'{callable_path}'" in message

    def test_bad_callable_stops_manage_py(self, tmp_path):
        done = run_manage(tmp_path, broken("tests.no_such_module:first"), "check")
        assert done.returncode != 0
        assert "'broken'" in done.stderr
        assert "'tests.no_such_module:first'" in done.stderr

    def test_module_that_fails_to_import(self, tmp_path, monkeypatch):
        """Regression: only ImportError named the script; any other error at import was a bare traceback."""
        (tmp_path / "failing_hooks.py").write_text('raise RuntimeError("boom at import")\n')
        monkeypatch.syspath_prepend(str(tmp_path))
        message = self.refused(broken("failing_hooks:hook"))
        assert "'broken'" in message
        assert "'failing_hooks:hook'" in message
        assert "boom at import" in message

    @pytest.mark.parametrize(
        "callable_path",
        [
            "tests.no_such_module:first",
            "tests.script_hooks:no_such_function",
            "tests.script_hooks:NOT_CALLABLE",
        ],
    )
    def test_checkdeployment_imports_every_script(self, checkdeployment, callable_path):
        """Regression (security audit): checkdeployment said OK for a script it could not import."""
        code, out, err = checkdeployment(script_entries("first") + broken(callable_path))
        assert code == 1, out
        assert "'broken'" in err and callable_path in err
        assert "OK" not in out

    def test_checkdeployment_with_good_scripts(self, checkdeployment):
        code, out, err = checkdeployment(
            script_entries("add_department", module="docs.examples.introspection_script")
        )
        assert code == 0, err
        assert out.strip().endswith(": OK")

    def test_good_scripts(self, tmp_path):
        entries = script_entries("add_department", "add_tenant", module="docs.examples.introspection_script")
        done = run_manage(tmp_path, entries, "check")
        assert done.returncode == 0, done.stderr
        assert "no issues" in done.stdout

    def test_duplicate_name(self, tmp_path, checkdeployment):
        entries = script_entries("first", "second", "first")
        code, _, err = checkdeployment(entries)
        assert code == 1
        assert "duplicate script name 'first'" in err
        assert "oauth.introspect.script[2].name" in err
        done = run_manage(tmp_path, entries, "check")
        assert done.returncode != 0
        assert "duplicate script name 'first'" in done.stderr

    def test_malformed_callable(self, checkdeployment):
        code, _, err = checkdeployment(broken("tests.script_hooks.first"))
        assert code == 1
        assert "must be 'module.path:function'" in err
