"""The admin's write actions go through the service layer: locking revokes, one revoke action
for access and refresh tokens, password changes audited with the admin as the actor."""

from __future__ import annotations

import pytest

from identity.models import Client, User
from tests.support.audit import is_change
from tests.support.oauth import issue, password_grant, stored, stored_refresh
from tests.support.worlds import oauth_world

pytestmark = pytest.mark.django_db

ADMIN = "/admin/identity"


@pytest.fixture(scope="module")
def world(build_once):
    return build_once(oauth_world)


@pytest.fixture
def foo_admin(client, world):
    client.force_login(User.objects.for_tenant(world.foo).get(username="admin"))
    return client


@pytest.fixture
def audit_log(caplog):
    caplog.set_level("INFO", logger="audit")
    return lambda: [
        record.audit for record in caplog.records if record.name == "audit" and is_change(record.audit)
    ]


def alice(world) -> User:
    return User.objects.for_tenant(world.foo).get(username="alice")


class TestAdminActions:
    def test_lock_action_revokes_the_users_tokens(self, client, foo_admin, world, audit_log):
        body = password_grant(client)
        foo_admin.force_login(User.objects.for_tenant(world.foo).get(username="admin"))
        foo_admin.post(
            f"{ADMIN}/user/", {"action": "lock_users", "_selected_action": [alice(world).pk]}, secure=True
        )
        assert alice(world).is_locked
        assert stored(body["access_token"]).revoked is not None
        assert stored_refresh(body["refresh_token"]).revoked is not None
        (record,) = [record for record in audit_log() if record["event"] == "user.locked"]
        assert (record["event"], record["actor"], record["tokens_revoked"]) == (
            "user.locked",
            "admin@foo.com",
            2,
        )

    @pytest.mark.parametrize(
        ("model", "kind"), [("accesstoken", "access_token"), ("refreshtoken", "refresh_token")]
    )
    def test_one_revoke_action_for_both_token_lists(self, client, foo_admin, world, audit_log, model, kind):
        body = password_grant(client)
        row = (
            stored(body["access_token"]) if kind == "access_token" else stored_refresh(body["refresh_token"])
        )
        foo_admin.force_login(User.objects.for_tenant(world.foo).get(username="admin"))
        response = foo_admin.post(
            f"{ADMIN}/{model}/", {"action": "revoke_tokens", "_selected_action": [row.pk]}, secure=True
        )
        assert response.status_code == 302
        assert stored(body["access_token"]).revoked is not None
        assert stored_refresh(body["refresh_token"]).revoked is not None
        (record,) = audit_log()
        assert (record["event"], record["actor"], record["token_type"]) == (
            "token.revoked",
            "admin@foo.com",
            kind,
        )

    def test_password_change_is_audited(self, foo_admin, world, audit_log):
        response = foo_admin.post(
            f"{ADMIN}/user/{alice(world).pk}/password/",
            {"password1": "Xy9-long-pw", "password2": "Xy9-long-pw", "usable_password": "true"},
            secure=True,
        )
        assert response.status_code == 302, response.content
        assert alice(world).check_password("Xy9-long-pw")
        (record,) = audit_log()
        assert (record["event"], record["actor"], record["user"]) == (
            "user.password_changed",
            "admin@foo.com",
            "alice",
        )


class TestClientForm:
    def test_the_form_shows_active_and_saving_it_off_revokes(self, client, foo_admin, world):
        """The change form saves the row as below; identity.signals revokes what the client holds."""
        token = issue(client, "foo.com", {"grant_type": "client_credentials"})["access_token"]
        demo = stored(token).application
        foo_admin.force_login(User.objects.for_tenant(world.foo).get(username="admin"))
        page = foo_admin.get(f"{ADMIN}/client/{demo.pk}/change/", secure=True)
        assert 'name="active"' in page.content.decode()
        demo.active = False
        demo.save()
        assert not Client.objects.for_tenant(world.foo).get(pk=demo.pk).active
        assert stored(token).revoked is not None
