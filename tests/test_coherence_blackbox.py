"""Two real server instances on one database, two gunicorn workers each: a change acknowledged by
one is what every worker of both answers right after (docs/architecture.md, "One cache, one
change bus").

Each test warms every worker's cache first (the same request, repeated over fresh connections,
reaches every worker), makes a change through one instance or a management command (run by an
operator's console kept open for the module: another process than the servers), then polls
every worker of both instances with a deadline of one second. The 50 ms figure is measured by
``bench/`` (``make bench``), not here. On PostgreSQL the change travels by LISTEN/NOTIFY; on
SQLite (one host) by the journal beside the database file.
"""

from __future__ import annotations

import base64
import json
import os

import pytest

from tenants.changes import LISTENER_NAME
from tests.support.polling import wait_for

pytestmark = [pytest.mark.blackbox, pytest.mark.long(7)]

CLIENT = ("rgfKVdnMQnJSSr_pKFTxj3apiwYa", "BRebJ0aqfclQB9v7yZwhj0JfW0ga")
ADMIN = ("admin", "admin")
# Requests per instance per check: with two workers, each is reached (all but certainly).
SPREAD = 8
DEADLINE = 1.0


@pytest.fixture(scope="module")
def instances(server_factory):
    # The polls present refused credentials many times: not a flood for the throttle to stop.
    first = server_factory(
        "[demo]\nenabled = true\n\n[tenant]\nemail_usernames = true\n\n"
        "[throttle]\nper_identity = 1000\nper_address = 10000\n"
    )
    second = first.second_instance()
    second.start()
    yield first, second
    second.stop()


@pytest.fixture(scope="module")
def console(instances):
    """The operator's console on the instances' configuration and database."""
    with instances[0].console() as console:
        yield console


def token(server, prefix: str = "", **data) -> dict:
    data.setdefault("grant_type", "client_credentials")
    response = server.post(f"{prefix}/oauth2/token", data=data, auth=CLIENT)
    assert response.status_code == 200, response.text
    return response.json()


def introspect(server, value: str, auth=ADMIN, prefix: str = ""):
    return server.post(
        f"{prefix}/oauth2/introspect", data={"token": value}, auth=auth, headers={"Connection": "close"}
    )


def everywhere(instances, check) -> bool:
    """Poll until ``check(server)`` holds for SPREAD requests to each instance, or DEADLINE passes."""
    return wait_for(lambda: all(check(server) for server in instances for _ in range(SPREAD)), DEADLINE, 0.01)


def active(value, auth=ADMIN, prefix=""):
    return lambda server: introspect(server, value, auth, prefix).json().get("active") is True


def inactive(value, auth=ADMIN, prefix=""):
    return lambda server: introspect(server, value, auth, prefix).json() == {"active": False}


def status(code, value, auth, prefix=""):
    return lambda server: introspect(server, value, auth, prefix).status_code == code


def shell(console, code: str) -> None:
    """Change rows through the ORM, as an operator's `manage.py shell` would."""
    console.manage("shell", "-c", code)


def kid(jwt: str) -> str:
    header = jwt.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"]


class TestEveryWorkerOfEveryInstance:
    def test_revocation(self, instances):
        first, second = instances
        value = token(first)["access_token"]
        assert everywhere(instances, active(value))
        response = second.post("/oauth2/revoke", data={"token": value}, auth=CLIENT)
        assert response.status_code == 200
        assert everywhere(instances, inactive(value))

    def test_refresh_token_reuse_revokes_the_family(self, instances):
        first, second = instances
        issued = token(first, grant_type="password", username="admin", password="admin", scope="test1")
        rotated = token(second, grant_type="refresh_token", refresh_token=issued["refresh_token"])
        assert everywhere(instances, active(rotated["access_token"]))
        reused = first.post(
            "/oauth2/token",
            data={"grant_type": "refresh_token", "refresh_token": issued["refresh_token"]},
            auth=CLIENT,
        )
        assert reused.status_code == 400
        assert everywhere(instances, inactive(rotated["access_token"]))
        assert everywhere(instances, inactive(rotated["refresh_token"]))

    def test_password_change(self, instances, console):
        first, _ = instances
        console.manage(
            *("createuser", "--tenant", "carbon.super", "bob", "--password", "old-password"),
            *("--permission", "/permission/admin/manage/identity/applicationmgt/view"),
        )
        value = token(first)["access_token"]
        assert everywhere(instances, active(value, auth=("bob", "old-password")))
        shell(
            console,
            "from identity.models import User; u = User.objects.all_tenants().get(username='bob'); "
            "u.set_password('new-password'); u.save()",
        )
        assert everywhere(instances, status(401, value, ("bob", "old-password")))
        assert everywhere(instances, active(value, auth=("bob", "new-password")))

    def test_locked_user(self, instances, console):
        first, _ = instances
        console.manage("createuser", "--tenant", "carbon.super", "carol", "--password", "carol-pw")
        value = token(first, grant_type="password", username="carol", password="carol-pw")["access_token"]
        assert everywhere(instances, active(value))
        shell(
            console,
            "from identity.models import User; "
            "User.objects.all_tenants().filter(username='carol').update(is_locked=True)",
        )
        assert everywhere(instances, inactive(value))

    def test_removed_permission(self, instances, console):
        first, _ = instances
        console.manage(
            *("createuser", "--tenant", "carbon.super", "dave", "--password", "dave-pw"),
            *("--permission", "/permission/admin/manage/identity/applicationmgt/view"),
        )
        value = token(first)["access_token"]
        assert everywhere(instances, active(value, auth=("dave", "dave-pw")))
        shell(
            console,
            "from identity.models import User; u = User.objects.all_tenants().get(username='dave'); "
            "[setattr(r, 'permissions', []) or r.save() for r in u.roles.all()]",
        )
        assert everywhere(instances, status(403, value, ("dave", "dave-pw")))

    def test_a_callers_change_reaches_its_first_sights(self, instances, console):
        """Each poll asks about a token no worker has seen: answered before Django from the
        caller's pass (introspection/first_sight.py), which every worker drops with the
        caller's rights."""
        first, _ = instances
        console.manage(
            *("createuser", "--tenant", "carbon.super", "frank", "--password", "frank-pw"),
            *("--permission", "/permission/admin/manage/identity/applicationmgt/view"),
        )
        frank = ("frank", "frank-pw")

        def answers_new_tokens(code: int):
            return lambda server: introspect(server, token(first)["access_token"], frank).status_code == code

        assert everywhere(instances, answers_new_tokens(200))
        shell(
            console,
            "from identity.models import User; u = User.objects.all_tenants().get(username='frank'); "
            "[setattr(r, 'permissions', []) or r.save() for r in u.roles.all()]",
        )
        assert everywhere(instances, answers_new_tokens(403))

    def test_key_rotation(self, instances, console):
        created = console.manage(
            *("createclient", "--tenant", "foo.com", "--name", "jwt", "--grant-types", "client_credentials"),
            *("--token-format", "jwt"),
        )
        credentials = json.loads(created.stdout)
        auth = (credentials["client_id"], credentials["client_secret"])

        def signed_with(server) -> str:
            """The key id of a token issued over a fresh connection (any worker of ``server``)."""
            response = server.post(
                "/t/foo.com/oauth2/token",
                data={"grant_type": "client_credentials"},
                auth=auth,
                headers={"Connection": "close"},
            )
            return kid(response.json()["access_token"])

        (old,) = {signed_with(server) for server in instances for _ in range(SPREAD)}
        rotated = console.manage("rotatekeys", "--tenant", "foo.com").stdout
        new = rotated.split()[-1]
        assert new != old
        # SPREAD tokens from each instance (every worker), all signed with the new key.
        assert everywhere(instances, lambda server: signed_with(server) == new)

    def test_deleted_client(self, instances, console):
        first, _ = instances
        created = console.manage(
            "createclient", "--tenant", "foo.com", "--name", "gone", "--grant-types", "client_credentials"
        )
        credentials = json.loads(created.stdout)
        response = first.post(
            "/t/foo.com/oauth2/token",
            data={"grant_type": "client_credentials"},
            auth=(credentials["client_id"], credentials["client_secret"]),
        )
        value = response.json()["access_token"]
        foo_admin = ("admin@foo.com", "admin")
        assert everywhere(instances, active(value, foo_admin, "/t/foo.com"))
        shell(
            console,
            "from identity.models import Client; "
            f"Client.objects.all_tenants().filter(client_id='{credentials['client_id']}').delete()",
        )
        assert everywhere(instances, inactive(value, foo_admin, "/t/foo.com"))

    def test_new_tenant_over_a_cached_callers_sign_in_name(self, instances, console):
        """A tenant takes over the sign-in names ending in @<its domain>: every worker drops the
        user callers it verified (createtenant refuses such a domain; this one is made as a user
        of that name created at the same moment would let it be)."""
        first, _ = instances
        console.manage(
            *("createuser", "--tenant", "carbon.super", "erin@new.example", "--password", "erin-pw"),
            *("--permission", "/permission/admin/manage/identity/applicationmgt/view"),
        )
        value = token(first)["access_token"]
        erin = ("erin@new.example", "erin-pw")
        assert everywhere(instances, active(value, auth=erin))
        shell(console, "from tenants.models import Tenant; Tenant.objects.create(domain='new.example')")
        assert everywhere(instances, status(401, value, erin))

    def test_deactivated_tenant(self, instances, console):
        console.manage("createtenant", "bar.example", "--admin", "admin", "--password", "bar-admin-pw")

        def answers(code):
            return lambda server: (
                server.get("/t/bar.example/oauth2/jwks", headers={"Connection": "close"}).status_code == code
            )

        assert everywhere(instances, answers(200))
        shell(
            console,
            "from tenants.models import Tenant; "
            "Tenant.objects.filter(domain='bar.example').update(active=False)",
        )
        assert everywhere(instances, answers(404))


@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="the change listener is PostgreSQL's")
class TestListenerOutage:
    def listeners(self, server) -> list[int]:
        with server.database._admin() as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name = %s AND datname = %s",
                [LISTENER_NAME, server.database.name],
            ).fetchall()
        return [pid for (pid,) in rows]

    def test_terminated_listeners_recover_and_serve_nothing_stale(self, instances):
        first, second = instances
        assert len(self.listeners(first)) == 4  # two workers per instance
        value = token(first)["access_token"]
        assert everywhere(instances, active(value))
        with first.database._admin() as conn:
            for pid in self.listeners(first):
                conn.execute("SELECT pg_terminate_backend(%s)", [pid])
        # Changed while the listeners are down: nobody may answer from what it cached before.
        assert second.post("/oauth2/revoke", data={"token": value}, auth=CLIENT).status_code == 200
        assert everywhere(instances, inactive(value))
        assert wait_for(lambda: len(self.listeners(first)) == 4, 10)
        # And the bus works again.
        again = token(first)["access_token"]
        assert everywhere(instances, active(again))
        assert second.post("/oauth2/revoke", data={"token": again}, auth=CLIENT).status_code == 200
        assert everywhere(instances, inactive(again))
