"""The audit trail of the admin's deletions and of client creation (docs/operations.md#audit-trail):
every deletion, "delete selected" included, is one ``admin.deleted`` line per row; a client made
in the admin is registered by the service with the admin as the actor; commands act as "command"."""

from __future__ import annotations

import io
import json
import re

import pytest
from django.contrib.auth.hashers import check_password
from django.core.management import call_command

from identity.models import Client, Role, User
from tests.support.oauth import ALICE
from tests.support.worlds import oauth_world

pytestmark = pytest.mark.django_db

ADMIN = "/admin/identity"


@pytest.fixture(scope="module")
def world(build_once):
    def make():
        world = oauth_world()
        for name in ("auditors", "billing", "support"):
            Role.objects.create(tenant=world.foo, name=name, permissions=["/permission/admin/login"])
        return world

    return build_once(make)


@pytest.fixture
def audit(caplog):
    """Return a function listing the audit records written so far, as dicts."""
    caplog.set_level("INFO", logger="audit")
    return lambda name=None: [
        record.audit
        for record in caplog.records
        if hasattr(record, "audit") and (name is None or record.audit["event"] == name)
    ]


def signed_in(client, world, domain: str = "foo.com"):
    tenant = world.foo if domain == "foo.com" else world.super
    client.force_login(User.objects.for_tenant(tenant).get(username="admin"))
    return client


def pks(model, world, field: str, names) -> list[int]:
    return list(
        model.objects.for_tenant(world.foo).filter(**{f"{field}__in": names}).values_list("pk", flat=True)
    )


def delete_selected(client, model: str, ids: list[int]):
    """Confirm Django's "delete selected" action on ``ids`` (the second, confirming POST)."""
    data = {"action": "delete_selected", "_selected_action": ids, "post": "yes"}
    return client.post(f"{ADMIN}/{model}/", data, secure=True)


class TestDeletions:
    # (admin model, model field naming the rows, rows, the object names Django logs)
    CASES = {
        "clients": ("client", "client_id", ["short", "api"], {"short (foo.com)", "api (foo.com)"}),
        "users": ("user", "username", ["locked", "inactive"], {"locked@foo.com", "inactive@foo.com"}),
        "roles": ("role", "name", ["auditors", "billing", "support"], None),
    }

    @pytest.mark.parametrize("case", list(CASES))
    def test_delete_selected_audits_every_row(self, client, world, audit, case):
        """Regression: Django bulk-creates the log entries of "delete selected", and the audit
        trail, which hears each saved entry, wrote nothing for them (issue 13)."""
        admin_model, field, names, reprs = self.CASES[case]
        model = {"client": Client, "user": User, "role": Role}[admin_model]
        ids = pks(model, world, field, names)
        assert len(ids) == len(names) >= 2
        response = delete_selected(signed_in(client, world), admin_model, ids)
        assert response.status_code == 302, response.content
        assert not model.objects.for_tenant(world.foo).filter(pk__in=ids).exists()
        events = audit("admin.deleted")
        assert sorted(int(event["object_id"]) for event in events) == sorted(ids)
        for event in events:
            assert event["actor"] == "admin@foo.com"
            assert event["tenant"] == "foo.com"
            assert event["model"] == f"identity.{admin_model}"
        if reprs is not None:
            assert {event["object_repr"] for event in events} == reprs

    def test_a_single_deletion_is_audited_the_same_way(self, client, world, audit):
        (pk,) = pks(Client, world, "client_id", ["short"])
        response = signed_in(client, world).post(f"{ADMIN}/client/{pk}/delete/", {"post": "yes"}, secure=True)
        assert response.status_code == 302, response.content
        (event,) = audit("admin.deleted")
        assert event == {
            "event": "admin.deleted",
            "actor": "admin@foo.com",
            "tenant": "foo.com",
            "model": "identity.client",
            "object_id": str(pk),
            "object_repr": "short (foo.com)",
            "fields": [],
        }

    def test_no_secret_reaches_the_audit_of_a_deletion(self, client, world, audit, caplog):
        users = User.objects.for_tenant(world.foo).filter(username__in=["alice", "locked"])
        hashes = [user.password for user in users]
        secrets = list(Client.objects.for_tenant(world.foo).values_list("client_secret", flat=True))
        delete_selected(signed_in(client, world), "user", [user.pk for user in users])
        delete_selected(client, "client", pks(Client, world, "client_id", ["short", "api"]))
        assert len(audit("admin.deleted")) == 4
        lines = json.dumps(audit())
        for secret in [*hashes, *filter(None, secrets), ALICE[1]]:
            assert secret not in lines


def secret_on(response) -> str:
    return re.search(r'id="client-secret"[^>]*>([^<]+)<', response.content.decode()).group(1)


class TestClientCreatedBy:
    FORM = {
        "name": "Billing",
        "client_type": "confidential",
        "grant_types": ["client_credentials"],
        "token_format": "opaque",
    }

    @pytest.mark.parametrize(
        ("signed_in_at", "fields", "actor"),
        [
            ("foo.com", {}, "admin@foo.com"),
            ("carbon.super", {"tenant": "foo"}, "admin@carbon.super"),  # an operator, for foo.com
        ],
    )
    def test_the_admin_is_the_actor(self, client, world, audit, signed_in_at, fields, actor):
        """Regression: a client made in the admin had no client.created record (the admin did not
        register it through the service, which alone writes it) (issue 12)."""
        data = {**self.FORM, "client_id": "billing", **fields}
        if "tenant" in data:
            data["tenant"] = world.foo.pk
        response = signed_in(client, world, signed_in_at).post(f"{ADMIN}/client/add/", data, secure=True)
        assert response.status_code == 200, response.content
        secret = secret_on(response)
        (event,) = audit("client.created")
        assert event == {
            "event": "client.created",
            "actor": actor,
            "tenant": "foo.com",
            "client_id": "billing",
        }
        assert check_password(
            secret, Client.objects.for_tenant(world.foo).get(client_id="billing").client_secret
        )
        assert secret not in json.dumps(audit())

    def test_a_secret_rotated_in_the_admin_names_the_admin(self, client, world, audit):
        pk = Client.objects.for_tenant(world.foo).get(client_id="short").pk
        response = signed_in(client, world).post(f"{ADMIN}/client/{pk}/rotate-secret/", secure=True)
        secret = secret_on(response)
        (event,) = audit("client.secret_rotated")
        assert (event["actor"], event["tenant"], event["client_id"]) == ("admin@foo.com", "foo.com", "short")
        assert secret not in json.dumps(audit())

    def test_the_command_is_the_actor_of_its_clients(self, world, audit):
        out = io.StringIO()
        call_command(
            "createclient", "--tenant", "foo.com", "--name", "Batch", "--client-id", "batch",
            "--grant-types", "client_credentials", stdout=out,
        )  # fmt: skip
        (event,) = audit("client.created")
        assert event == {
            "event": "client.created",
            "actor": "command",
            "tenant": "foo.com",
            "client_id": "batch",
        }
        assert json.loads(out.getvalue())["client_secret"] not in json.dumps(audit())
