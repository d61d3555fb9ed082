"""The operator's commands (lockuser, unlockuser, setpassword, deactivateuser, deactivateclient,
deactivatetenant, revoketokens; createtenant, createuser, rotatekeys): the same service code as
the admin, an audit record with actor "command", clear errors, nothing half made."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from identity.models import AccessToken, Client, RefreshToken, Role, SigningKey, User
from tenants.models import Tenant
from tests.support.audit import is_change
from tests.support.commands import assert_failed, manage
from tests.support.oauth import DEMO, issue, password_grant, stored, stored_refresh
from tests.support.worlds import oauth_world

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def world(build_once):
    return build_once(oauth_world)


def run(name: str, *args: str) -> str:
    out = io.StringIO()
    call_command(name, *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def alice() -> User:
    return User.objects.for_tenant(Tenant.objects.get(domain="foo.com")).get(username="alice")


def audited(caplog) -> list[dict]:
    return [record.audit for record in caplog.records if record.name == "audit" and is_change(record.audit)]


class TestUserCommands:
    @pytest.mark.parametrize(
        ("command", "field", "value", "event"),
        [
            ("lockuser", "is_locked", True, "user.locked"),
            ("deactivateuser", "is_active", False, "user.deactivated"),
        ],
    )
    def test_disable_revokes_and_audits(self, client, world, caplog, command, field, value, event):
        caplog.set_level("INFO", logger="audit")
        body = password_grant(client)
        out = run(command, "--tenant", "foo.com", "alice")
        assert out == f"{event.split('.')[1]} user alice@foo.com\n"
        assert getattr(alice(), field) is value
        assert stored(body["access_token"]).revoked is not None
        assert stored_refresh(body["refresh_token"]).revoked is not None
        (record,) = [r for r in audited(caplog) if r["event"] == event]
        assert record == {
            "event": event,
            "actor": "command",
            "tenant": "foo.com",
            "user": "alice",
            "user_id": alice().pk,
            "tokens_revoked": 2,
        }

    def test_unlock_revives_no_token(self, client, world):
        body = password_grant(client)
        run("lockuser", "--tenant", "foo.com", "alice")
        assert run("unlockuser", "--tenant", "foo.com", "alice") == "unlocked user alice@foo.com\n"
        assert alice().can_authenticate
        assert stored(body["access_token"]).revoked is not None
        assert password_grant(client)["access_token"]  # and alice signs in again

    def test_setpassword(self, client, world, caplog):
        caplog.set_level("INFO", logger="audit")
        out = run("setpassword", "--tenant", "foo.com", "alice", "--password", "n3w-secret-pw")
        assert out == "password of alice@foo.com changed\n"
        assert alice().check_password("n3w-secret-pw")
        password_grant(client, user=("alice", "n3w-secret-pw"))
        (record,) = [r for r in audited(caplog) if r["event"] == "user.password_changed"]
        assert "n3w-secret-pw" not in json.dumps(record)
        assert "n3w-secret-pw" not in caplog.text

    def test_createuser_with_permissions(self, world, caplog):
        caplog.set_level("INFO", logger="audit")
        out = run(
            "createuser",
            "--tenant",
            "foo.com",
            "carol",
            "--password",
            "pw",
            "--permission",
            "/permission/admin/login",
        )
        assert out == "created user carol@foo.com\n"
        carol = User.objects.for_tenant(world.foo).get(username="carol")
        assert carol.permission_paths() == {"/permission/admin/login"}
        assert [r["event"] for r in audited(caplog)] == ["user.created"]


class TestClientAndTenantCommands:
    def test_deactivateclient(self, client, world):
        token = issue(client, "foo.com", {"grant_type": "client_credentials"})["access_token"]
        out = run("deactivateclient", "--tenant", "foo.com", DEMO[0])
        assert out == f"deactivated client {DEMO[0]} of tenant foo.com\n"
        assert not Client.objects.for_tenant(world.foo).get(client_id=DEMO[0]).active
        assert stored(token).revoked is not None
        # The same client id in another tenant is another client.
        assert Client.objects.for_tenant(world.super).get(client_id=DEMO[0]).active

    def test_deactivatetenant(self, client, world):
        token = issue(client, "foo.com", {"grant_type": "client_credentials"})["access_token"]
        assert run("deactivatetenant", "foo.com") == "deactivated tenant foo.com\n"
        assert not Tenant.objects.get(domain="foo.com").active
        assert stored(token).revoked is not None

    @pytest.mark.parametrize("whose", ["--user", "--client"])
    def test_revoketokens(self, client, world, whose):
        user_tokens = password_grant(client)
        app_token = issue(client, "foo.com", {"grant_type": "client_credentials"})["access_token"]
        name = "alice" if whose == "--user" else DEMO[0]
        out = run("revoketokens", "--tenant", "foo.com", whose, name)
        expected = 2 if whose == "--user" else 3  # the client's: alice's pair and its app token
        assert out.startswith(f"revoked {expected} token(s) of ")
        assert stored(user_tokens["access_token"]).revoked is not None
        assert (stored(app_token).revoked is not None) is (whose == "--client")

    def test_createtenant_and_rotatekeys(self, world, caplog):
        caplog.set_level("INFO", logger="audit")
        run("createtenant", "baz.com", "--admin", "root", "--password", "pw")
        baz = Tenant.objects.get(domain="baz.com")
        run("rotatekeys", "--tenant", "baz.com")
        assert SigningKey.objects.for_tenant(baz).count() == 2
        events = [(r["event"], r["actor"], r["tenant"]) for r in audited(caplog)]
        assert events == [("tenant.created", "command", "baz.com"), ("key.rotated", "command", "baz.com")]


class TestRefused:
    """A CommandError naming the problem, and nothing changed."""

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["lockuser", "--tenant", "nope.com", "alice"], "tenant 'nope.com' does not exist"),
            (["lockuser", "--tenant", "foo.com", "nobody"], "no user 'nobody' in tenant foo.com"),
            (["unlockuser", "--tenant", "bar.com", "alice"], "no user 'alice' in tenant bar.com"),
            (["setpassword", "--tenant", "foo.com", "ghost", "--password", "x"], "no user 'ghost'"),
            (["deactivateuser", "--tenant", "foo.com", "alice@bar.com"], "no user 'alice@bar.com'"),
            (["deactivateclient", "--tenant", "bar.com", "webapp"], "no client 'webapp' in tenant bar.com"),
            (["deactivatetenant", "nope.com"], "tenant 'nope.com' does not exist"),
            (["deactivatetenant", "carbon.super"], "the super tenant cannot be deactivated"),
            (["revoketokens", "--tenant", "foo.com"], "one of the arguments --user --client is required"),
            (["revoketokens", "--tenant", "foo.com", "--user", "a", "--client", "b"], "not allowed with"),
            (["revoketokens", "--tenant", "foo.com", "--client", "nope"], "no client 'nope'"),
            (
                ["createtenant", "foo.com", "--admin", "a", "--password", "p"],
                "tenant 'foo.com' already exists",
            ),
            (["createtenant", "Bad_Domain", "--admin", "a", "--password", "p"], "not a valid tenant domain"),
            (["createtenant", "new.com", "--admin", "", "--password", "p"], "tenant 'new.com' not created"),
            (["createuser", "--tenant", "foo.com", "alice", "--password", "p"], "already exists"),
            (
                ["createuser", "--tenant", "foo.com", "x", "--password", "p", "--permission", "bad"],
                "not a permission path",
            ),
            (
                ["createuser", "--tenant", "nope.com", "x", "--password", "p"],
                "tenant 'nope.com' does not exist",
            ),
            (["rotatekeys", "--tenant", "nope.com"], "tenant 'nope.com' does not exist"),
            # Regression (PostgreSQL, whose text refuses NUL): DataError's traceback.
            (["lockuser", "--tenant", "foo\x00.com", "alice"], "tenant 'foo\x00.com' does not exist"),
            (["lockuser", "--tenant", "foo.com", "ali\x00ce"], "no user 'ali\x00ce' in tenant foo.com"),
            (["deactivateclient", "--tenant", "foo.com", "web\x00app"], "no client 'web\x00app'"),
            # Regression: an empty password was set, and signed in with an empty password.
            (
                ["setpassword", "--tenant", "foo.com", "alice", "--password", ""],
                "password: must not be empty",
            ),
            (["createuser", "--tenant", "foo.com", "x", "--password", ""], "password: must not be empty"),
            (["createtenant", "new.com", "--admin", "a", "--password", ""], "password: must not be empty"),
        ],
    )
    def test_refused(self, world, args, message):
        models = (Tenant, User, Role, Client, SigningKey, AccessToken, RefreshToken)
        before = [
            list(model.objects.values_list("pk", "active"))
            if model is Tenant
            else sorted(model.objects.all_tenants().values_list("pk", flat=True))
            for model in models
        ]
        states = list(User.objects.all_tenants().values_list("pk", "is_active", "is_locked", "password"))
        with pytest.raises(CommandError) as raised:
            run(*args)
        assert message in str(raised.value)
        after = [
            list(model.objects.values_list("pk", "active"))
            if model is Tenant
            else sorted(model.objects.all_tenants().values_list("pk", flat=True))
            for model in models
        ]
        assert after == before
        assert (
            list(User.objects.all_tenants().values_list("pk", "is_active", "is_locked", "password")) == states
        )


class TestCommandLine:
    """As an operator runs them: exit status and stderr (in this process as manage.py runs a
    command; tests/test_oauth_commands.py runs the real process)."""

    def test_lockuser_then_unlockuser(self, world):
        manage("createuser", "--tenant", "foo.com", "dave", "--password", "dave-pw")
        done = manage("lockuser", "--tenant", "foo.com", "dave")
        assert (done.returncode, done.stdout) == (0, "locked user dave@foo.com\n")
        done = manage("unlockuser", "--tenant", "foo.com", "dave")
        assert (done.returncode, done.stdout) == (0, "unlocked user dave@foo.com\n")

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["lockuser", "--tenant", "foo.com", "ghost"], "no user 'ghost' in tenant foo.com"),
            (["deactivatetenant", "carbon.super"], "the super tenant cannot be deactivated"),
            (["revoketokens", "--tenant", "foo.com"], "one of the arguments --user --client is required"),
        ],
    )
    def test_failure_exits_non_zero_with_the_error_on_stderr(self, world, args, message):
        assert_failed(manage(*args), message)
