"""The Django admin, with the test client: a tenant admin sees and changes only their tenant (docs/admin.md).

Both tenants hold rows with the same names (user ``alice``, role ``readers``, client
``app-id``), so a row of the other tenant can only be told apart by its tenant: every row of
bar.com names ``bar.com`` when shown, and no page that foo.com's admin gets may say ``bar.com``.
"""

from __future__ import annotations

import json
import re
import secrets
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.auth.hashers import check_password
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from identity import permissions
from identity.models import AccessToken, Client, Grant, IDToken, RefreshToken, Role, SigningKey, User
from identity.models.tokens import token_checksum
from identity.provisioning import create_user
from identity.services.clients import ClientSpec, create_client
from tenants.models import Tenant
from tests.support.auth import basic
from tests.support.worlds import fresh, tenants_with_admins

pytestmark = pytest.mark.django_db

SUPER = settings.DEPLOYMENT.tenant.super_tenant_domain
FOO, BAR = "foo.com", "bar.com"
ADMIN = "/admin/identity"


def make_tenant_rows(tenant: Tenant) -> dict:
    """One row of every model the admin shows, all named alike in every tenant."""
    admin = User.objects.for_tenant(tenant).get(username="admin")
    alice = create_user(tenant, "alice", "alice-pw")
    readers = Role.objects.create(tenant=tenant, name="readers", permissions=["/permission/admin/login"])
    alice.roles.add(readers)
    client, _ = create_client(
        tenant,
        ClientSpec(
            name="app", client_id="app-id", grant_types=["client_credentials", "password"], owner="admin"
        ),
    )
    # A second client, so that filters by client have a choice to offer.
    create_client(tenant, ClientSpec(name="spare", client_id="spare-id", grant_types=["client_credentials"]))
    now = timezone.now()
    token = AccessToken.objects.create(
        tenant=tenant,
        application=client,
        user=alice,
        scope="test1",
        grant_type="password",
        expires=now + timedelta(hours=1),
        token_checksum=token_checksum(secrets.token_urlsafe(32)),
    )
    refresh = RefreshToken.objects.create(
        tenant=tenant,
        application=client,
        user=alice,
        access_token=token,
        expires=now + timedelta(days=1),
        token_checksum=token_checksum(secrets.token_urlsafe(32)),
    )
    grant = Grant.objects.create(
        tenant=tenant,
        application=client,
        user=alice,
        code=secrets.token_urlsafe(16),
        expires=now + timedelta(minutes=1),
        redirect_uri="https://app.example/cb",
    )
    id_token = IDToken.objects.create(tenant=tenant, application=client, user=alice, expires=now)
    return {
        "admin": admin,
        "user": alice,
        "role": readers,
        "client": client,
        "accesstoken": token,
        "refreshtoken": refresh,
        "grant": grant,
        "idtoken": id_token,
        "signingkey": SigningKey.objects.for_tenant(tenant).get(),
    }


@pytest.fixture(scope="module")
def world(build_once):
    def make():
        tenants = tenants_with_admins(SUPER, FOO, BAR)
        rows = {domain: make_tenant_rows(tenants[domain]) for domain in (FOO, BAR)}
        operator = User.objects.for_tenant(tenants[SUPER]).get(username="admin")
        return SimpleNamespace(tenants=tenants, rows=rows, operator=operator)

    return build_once(make)


@pytest.fixture
def foo_admin(client, world):
    """The test client, signed in as foo.com's admin (admin@foo.com)."""
    client.force_login(world.rows[FOO]["admin"])
    return client


@pytest.fixture
def operator(client, world):
    """The test client, signed in as the super tenant's superuser."""
    client.force_login(world.operator)
    return client


def listed(response) -> list:
    """Return the rows a change list shows."""
    return list(response.context["cl"].result_list)


# model (its admin URL name), a search term that matches its row in both tenants
MODELS = [
    ("user", "alice"),
    ("role", "readers"),
    ("client", "app-id"),
    ("accesstoken", "app-id"),
    ("refreshtoken", "alice"),
    ("grant", "app-id"),
    ("idtoken", "alice"),
    ("signingkey", None),
]
MODEL_NAMES = [name for name, _ in MODELS]


class TestTenantAdminSeesOnlyTheirTenant:
    """Every way into another tenant's rows, for every model (the cross-tenant table)."""

    @pytest.mark.parametrize("model", MODEL_NAMES)
    def test_change_list(self, foo_admin, world, model):
        response = foo_admin.get(f"{ADMIN}/{model}/")
        assert response.status_code == 200
        rows = listed(response)
        assert rows == [world.rows[FOO][model]] or {row.tenant_id for row in rows} == {world.tenants[FOO].pk}
        assert BAR not in response.content.decode()

    @pytest.mark.parametrize(("model", "term"), [(m, t) for m, t in MODELS if t])
    def test_search(self, foo_admin, world, model, term):
        response = foo_admin.get(f"{ADMIN}/{model}/", {"q": term})
        assert listed(response) == [world.rows[FOO][model]]
        assert BAR not in response.content.decode()

    def test_search_by_another_tenants_key_id_finds_nothing(self, foo_admin, world):
        response = foo_admin.get(f"{ADMIN}/signingkey/", {"q": world.rows[BAR]["signingkey"].kid})
        assert listed(response) == []

    @pytest.mark.parametrize(
        ("model", "lookup", "row"),
        [
            ("accesstoken", "application__id__exact", "client"),
            ("accesstoken", "user__id__exact", "user"),
            ("refreshtoken", "application__id__exact", "client"),
            ("grant", "application__id__exact", "client"),
            ("user", "roles__id__exact", "role"),
        ],
    )
    def test_filter_choices_and_a_typed_filter_on_another_tenants_row(
        self, foo_admin, world, model, lookup, row
    ):
        response = foo_admin.get(f"{ADMIN}/{model}/")
        choices = [
            spec
            for spec in response.context["cl"].filter_specs
            if getattr(spec, "field_path", "") + "__id__exact" == lookup
        ]
        (spec,) = choices
        offered = {pk for pk, _ in spec.lookup_choices}
        assert world.rows[FOO][row].pk in offered
        assert world.rows[BAR][row].pk not in offered
        assert BAR not in response.content.decode()

        response = foo_admin.get(f"{ADMIN}/{model}/", {lookup: world.rows[BAR][row].pk})
        assert response.status_code in (200, 302)
        if response.status_code == 200:
            assert listed(response) == []
            assert BAR not in response.content.decode()

    def test_typed_filter_by_another_tenant_finds_nothing(self, foo_admin, world):
        response = foo_admin.get(f"{ADMIN}/user/", {"tenant__id__exact": world.tenants[BAR].pk})
        assert listed(response) == []

    @pytest.mark.parametrize("model", MODEL_NAMES)
    @pytest.mark.parametrize("view", ["change", "history", "delete"])
    def test_typed_url_of_another_tenants_row_is_404(self, foo_admin, world, model, view):
        bar_row = world.rows[BAR][model]
        suffix = "change/" if view == "change" else f"{view}/"
        response = foo_admin.get(f"{ADMIN}/{model}/{bar_row.pk}/{suffix}")
        assert response.status_code == 404
        missing = foo_admin.get(f"{ADMIN}/{model}/999999/{suffix}")
        assert missing.status_code == 404
        # No telling "not yours" from "not there".
        assert json.loads(response.content)["error"] == json.loads(missing.content)["error"]

    @pytest.mark.parametrize("model", ["user", "role", "client"])
    def test_post_to_another_tenants_row_changes_nothing(self, foo_admin, world, model):
        bar_row = world.rows[BAR][model]
        before = fresh(bar_row)
        response = foo_admin.post(f"{ADMIN}/{model}/{bar_row.pk}/change/", {"name": "x", "username": "x"})
        assert response.status_code == 404
        response = foo_admin.post(f"{ADMIN}/{model}/{bar_row.pk}/delete/", {"post": "yes"})
        assert response.status_code == 404
        after = fresh(bar_row)
        assert str(after) == str(before)

    def test_password_and_rotate_secret_urls_of_another_tenant_are_404(self, foo_admin, world):
        bar_user, bar_client = world.rows[BAR]["user"], world.rows[BAR]["client"]
        stored = fresh(bar_client).client_secret
        assert foo_admin.get(f"{ADMIN}/user/{bar_user.pk}/password/").status_code == 404
        response = foo_admin.post(
            f"{ADMIN}/user/{bar_user.pk}/password/", {"password1": "Xy9-long-pw", "password2": "Xy9-long-pw"}
        )
        assert response.status_code == 404
        assert foo_admin.post(f"{ADMIN}/client/{bar_client.pk}/rotate-secret/").status_code == 404
        assert fresh(bar_client).client_secret == stored
        assert fresh(bar_user).check_password("alice-pw")

    @pytest.mark.parametrize("model", MODEL_NAMES)
    def test_view_on_site_shortcut_is_404(self, foo_admin, world, model):
        bar_row = world.rows[BAR][model]
        content_type = ContentType.objects.get_for_model(type(bar_row))
        assert foo_admin.get(f"/admin/r/{content_type.pk}/{bar_row.pk}/").status_code == 404

    @pytest.mark.parametrize(
        ("source", "field", "remote"),
        [
            ("client", "user", "user"),
            ("user", "roles", "role"),
            ("accesstoken", "application", "client"),
            ("accesstoken", "user", "user"),
            ("refreshtoken", "access_token", "accesstoken"),
            ("grant", "application", "client"),
        ],
    )
    @pytest.mark.parametrize("term", ["", "a"])
    def test_autocomplete(self, foo_admin, world, source, field, remote, term):
        response = foo_admin.get(
            "/admin/autocomplete/",
            {"app_label": "identity", "model_name": source, "field_name": field, "term": term},
        )
        assert response.status_code == 200
        found = {int(result["id"]) for result in json.loads(response.content)["results"]}
        assert world.rows[BAR][remote].pk not in found
        assert BAR not in response.content.decode()
        if term == "":
            assert world.rows[FOO][remote].pk in found

    @pytest.mark.parametrize("source", ["client", "user", "role", "signingkey"])
    def test_autocomplete_of_tenants_is_refused(self, foo_admin, source):
        response = foo_admin.get(
            "/admin/autocomplete/",
            {"app_label": "identity", "model_name": source, "field_name": "tenant", "term": ""},
        )
        assert response.status_code == 403

    @pytest.mark.parametrize(
        "url", [f"{ADMIN}/client/add/", f"{ADMIN}/user/add/", f"{ADMIN}/role/add/", "/admin/"]
    )
    def test_forms_and_widgets_offer_only_own_rows(self, foo_admin, url):
        response = foo_admin.get(url)
        assert response.status_code == 200
        assert BAR not in response.content.decode()

    @pytest.mark.parametrize("model", ["user", "client", "accesstoken", "refreshtoken"])
    def test_change_pages_of_own_rows_name_no_other_tenant(self, foo_admin, world, model):
        response = foo_admin.get(f"{ADMIN}/{model}/{world.rows[FOO][model].pk}/change/")
        assert response.status_code == 200
        assert BAR not in response.content.decode()

    def test_choosing_another_tenants_row_in_a_form_is_refused(self, foo_admin, world):
        alice = world.rows[FOO]["user"]
        response = foo_admin.post(
            f"{ADMIN}/user/{alice.pk}/change/",
            {"username": "alice", "email": "", "is_active": "on", "roles": [world.rows[BAR]["role"].pk]},
        )
        assert response.status_code == 200
        assert "roles" in response.context["adminform"].form.errors
        assert list(alice.roles.all()) == [world.rows[FOO]["role"]]

        response = foo_admin.post(f"{ADMIN}/client/add/", client_form(user=world.rows[BAR]["admin"].pk))
        assert response.status_code == 200
        assert "user" in response.context["adminform"].form.errors

    def test_actions_on_another_tenants_rows_do_nothing(self, foo_admin, world):
        bar_token, bar_user = world.rows[BAR]["accesstoken"], world.rows[BAR]["user"]
        foo_admin.post(
            f"{ADMIN}/accesstoken/", {"action": "revoke_tokens", "_selected_action": [bar_token.pk]}
        )
        assert fresh(bar_token).revoked is None
        foo_admin.post(f"{ADMIN}/user/", {"action": "lock_users", "_selected_action": [bar_user.pk]})
        foo_admin.post(
            f"{ADMIN}/user/", {"action": "delete_selected", "_selected_action": [bar_user.pk], "post": "yes"}
        )
        bar_user = fresh(bar_user)
        assert not bar_user.is_locked

    def test_tenants_are_for_operators_only(self, foo_admin, world):
        assert foo_admin.get("/admin/tenants/tenant/").status_code == 403
        assert foo_admin.get(f"/admin/tenants/tenant/{world.tenants[BAR].pk}/change/").status_code == 403
        assert foo_admin.get("/admin/tenants/tenant/add/").status_code == 403
        assert "Tenants" not in foo_admin.get("/admin/").content.decode()

    def test_the_tenant_is_not_on_a_tenant_admins_forms_nor_lists(self, foo_admin, world):
        response = foo_admin.get(f"{ADMIN}/client/add/")
        assert "tenant" not in response.context["adminform"].form.fields
        response = foo_admin.get(f"{ADMIN}/client/")
        assert "tenant" not in response.context["cl"].list_display

    def test_each_change_is_in_the_admin_log_of_its_tenant_only(self, client, world):
        """Django's admin log records every change; a tenant admin's "Recent actions" shows its own
        tenant's entries, never another's."""
        for domain in (FOO, BAR):
            client.force_login(world.rows[domain]["admin"])
            # followed, so that the "was added" message is shown now, not on the next admin's page
            response = client.post(
                f"{ADMIN}/role/add/", {"name": f"ledger-of-{domain}"}, secure=True, follow=True
            )
            assert response.redirect_chain == [(f"{ADMIN}/role/", 302)], response.content
            role = Role.objects.for_tenant(world.tenants[domain]).get(name=f"ledger-of-{domain}")
            entry = LogEntry.objects.get(object_id=str(role.pk), content_type__model="role")
            assert (entry.action_flag, entry.user) == (ADDITION, world.rows[domain]["admin"])
        for domain, other in ((FOO, BAR), (BAR, FOO)):
            client.force_login(world.rows[domain]["admin"])
            index = client.get("/admin/", secure=True).content.decode()
            assert f"ledger-of-{domain}" in index
            assert f"ledger-of-{other}" not in index


class TestOtherUsers:
    def test_staff_without_the_admin_permission_sees_nothing(self, client, world):
        alice = world.rows[FOO]["user"]
        User.objects.for_tenant(world.tenants[FOO]).filter(pk=alice.pk).update(is_staff=True)
        client.force_login(User.objects.for_tenant(world.tenants[FOO]).get(pk=alice.pk))
        for model in MODEL_NAMES:
            assert client.get(f"{ADMIN}/{model}/").status_code == 403

    def test_tenant_admin_without_staff_cannot_sign_in(self, client, world):
        User.objects.for_tenant(world.tenants[FOO]).filter(username="admin").update(is_staff=False)
        response = client.post("/admin/login/", {"username": "admin@foo.com", "password": "admin"})
        assert response.status_code == 200  # the form again, with its error
        assert "_auth_user_id" not in client.session

    def test_tenant_admin_signs_in_with_user_at_tenant(self, client, world):
        response = client.post(
            "/admin/login/?next=/admin/",
            {"username": "admin@foo.com", "password": "admin", "next": "/admin/"},
        )
        assert response.status_code == 302
        page = client.get("/admin/").content.decode()
        assert "admin@foo.com" in page
        assert "Clients" in page and "Tenants" not in page

    def test_locked_admin_is_signed_out(self, foo_admin, world):
        User.objects.for_tenant(world.tenants[FOO]).filter(username="admin").update(is_locked=True)
        assert foo_admin.get(f"{ADMIN}/client/").status_code == 302  # to the login page

    def test_admin_of_a_deactivated_tenant_is_signed_out(self, foo_admin, world):
        tenant = world.tenants[FOO]
        tenant.active = False
        tenant.save()
        assert foo_admin.get(f"{ADMIN}/client/").status_code == 302


class TestOperatorSeesEverything:
    @pytest.mark.parametrize("model", MODEL_NAMES)
    def test_change_list_shows_every_tenant_with_a_tenant_column(self, operator, world, model):
        response = operator.get(f"{ADMIN}/{model}/")
        rows = listed(response)
        assert {world.rows[FOO][model], world.rows[BAR][model]} <= set(rows)
        assert "tenant" in response.context["cl"].list_display
        assert any(spec.title == "tenant" for spec in response.context["cl"].filter_specs)

    def test_tenant_filter(self, operator, world):
        response = operator.get(f"{ADMIN}/client/", {"tenant__id__exact": world.tenants[BAR].pk})
        rows = listed(response)
        assert world.rows[BAR]["client"] in rows
        assert {row.tenant_id for row in rows} == {world.tenants[BAR].pk}

    @pytest.mark.parametrize("model", MODEL_NAMES)
    def test_change_page_of_any_tenant(self, operator, world, model):
        assert operator.get(f"{ADMIN}/{model}/{world.rows[BAR][model].pk}/change/").status_code == 200

    def test_related_rows_must_be_of_the_rows_tenant(self, operator, world):
        response = operator.post(
            f"{ADMIN}/user/add/",
            {
                "tenant": world.tenants[FOO].pk,
                "username": "carol",
                "password1": "Xy9-long-pw",
                "password2": "Xy9-long-pw",
                "roles": [world.rows[BAR]["role"].pk],
            },
        )
        assert response.status_code == 200
        assert "roles" in response.context["adminform"].form.errors
        assert not User.objects.all_tenants().filter(username="carol").exists()

    def test_a_user_without_a_tenant_is_a_form_error(self, operator):
        """Regression: User.clean() read the missing tenant and the add form answered 500."""
        response = operator.post(
            f"{ADMIN}/user/add/",
            {"username": "carol", "password1": "Xy9-long-pw", "password2": "Xy9-long-pw"},
        )
        assert response.status_code == 200
        assert "tenant" in response.context["adminform"].form.errors

    def test_only_super_tenant_users_can_be_superusers(self, operator, world):
        alice = world.rows[FOO]["user"]
        response = operator.post(
            f"{ADMIN}/user/{alice.pk}/change/",
            {
                "username": "alice",
                "is_active": "on",
                "is_superuser": "on",
                "roles": [world.rows[FOO]["role"].pk],
            },
        )
        assert "is_superuser" in response.context["adminform"].form.errors


def client_form(**fields) -> dict:
    """POST data of the client add form."""
    return {
        "name": "Billing",
        "client_id": "",
        "client_type": "confidential",
        "grant_types": ["client_credentials"],
        "redirect_uris": "",
        "allowed_scopes": "read write",
        "audiences": "",
        "token_format": "opaque",
        "access_token_lifetime": "",
        "refresh_token_lifetime": "",
        **fields,
    }


def secret_on(response) -> str:
    """Return the client secret a page shows."""
    return re.search(r'id="client-secret"[^>]*>([^<]+)<', response.content.decode()).group(1)


class TestClients:
    def test_create_shows_the_secret_once(self, foo_admin, world, caplog):
        caplog.set_level("DEBUG")
        response = foo_admin.post(f"{ADMIN}/client/add/", client_form(client_id="billing"))
        assert response.status_code == 200
        assert "no-store" in response["Cache-Control"]
        secret = secret_on(response)
        client = Client.objects.for_tenant(world.tenants[FOO]).get(client_id="billing")
        assert client.tenant == world.tenants[FOO]
        assert client.user == world.rows[FOO]["admin"] or client.user is None
        assert client.allowed_scopes == ["read", "write"]
        assert len(secret) > 30 and check_password(secret, client.client_secret)
        change_page = foo_admin.get(f"{ADMIN}/client/{client.pk}/change/").content.decode()
        assert secret not in change_page
        assert client.client_secret not in change_page
        assert client.client_secret.split("$")[-1] not in change_page
        assert "Rotate" in change_page
        assert secret not in caplog.text

    def test_tenant_admin_cannot_pick_another_tenant(self, foo_admin, world):
        foo_admin.post(f"{ADMIN}/client/add/", client_form(client_id="sneaky", tenant=world.tenants[BAR].pk))
        assert Client.objects.all_tenants().get(client_id="sneaky").tenant == world.tenants[FOO]

    def test_client_id_is_unique_per_tenant(self, foo_admin):
        response = foo_admin.post(f"{ADMIN}/client/add/", client_form(client_id="app-id"))
        assert response.status_code == 200
        assert response.context["adminform"].form.errors

    def test_every_setting_is_saved(self, foo_admin, world):
        form = client_form(
            client_id="full",
            grant_types=["authorization_code", "refresh_token"],
            redirect_uris="https://app.example/cb",
            audiences="https://api.example",
            token_format="jwt",
            access_token_lifetime="600",
            use_tenant_domain_in_local_subject_identifier="on",
            use_user_store_domain_in_local_subject_identifier="on",
            run_introspection_script_before_jwt_creation="on",
        )
        foo_admin.post(f"{ADMIN}/client/add/", form)
        client = Client.objects.for_tenant(world.tenants[FOO]).get(client_id="full")
        assert client.grant_types == ["authorization_code", "refresh_token"]
        assert client.audiences == ["https://api.example"]
        assert client.token_format == "jwt"
        assert client.access_token_lifetime == 600
        assert client.use_tenant_domain_in_local_subject_identifier
        assert client.use_user_store_domain_in_local_subject_identifier
        assert client.run_introspection_script_before_jwt_creation

    def test_model_rules_are_form_errors(self, foo_admin):
        response = foo_admin.post(f"{ADMIN}/client/add/", client_form(client_type="public"))
        assert "grant_types" in response.context["adminform"].form.errors

    def test_public_client_has_no_secret(self, foo_admin, world):
        response = foo_admin.post(
            f"{ADMIN}/client/add/",
            client_form(client_id="spa", client_type="public", grant_types=["password"]),
        )
        assert 'id="client-secret"' not in response.content.decode()
        client = Client.objects.for_tenant(world.tenants[FOO]).get(client_id="spa")
        assert foo_admin.get(f"{ADMIN}/client/{client.pk}/rotate-secret/").status_code == 302

    def test_rotate_secret(self, foo_admin, world):
        client, old_secret = create_client(
            world.tenants[FOO],
            ClientSpec(name="rotating", client_id="rot", grant_types=["client_credentials"]),
        )
        confirm = foo_admin.get(f"{ADMIN}/client/{client.pk}/rotate-secret/")
        assert confirm.status_code == 200
        client.refresh_from_db()
        assert check_password(old_secret, client.client_secret)  # a GET changes nothing

        response = foo_admin.post(f"{ADMIN}/client/{client.pk}/rotate-secret/")
        new_secret = secret_on(response)
        client.refresh_from_db()
        assert check_password(new_secret, client.client_secret)
        assert not check_password(old_secret, client.client_secret)

    def test_scripts_are_offered_from_deployment_toml(self, foo_admin, deployment_override):
        from dataclasses import replace

        from deployment import ScriptConfig

        oauth = settings.DEPLOYMENT.oauth
        scripts = (ScriptConfig(name="department", callable="docs.examples:add_department"),)
        deployment_override(oauth=replace(oauth, introspect=replace(oauth.introspect, script=scripts)))
        response = foo_admin.get(f"{ADMIN}/client/add/")
        assert response.context["adminform"].form.fields["introspection_scripts"].choices == [
            ("department", "department")
        ]
        foo_admin.post(
            f"{ADMIN}/client/add/", client_form(client_id="scripted", introspection_scripts=["department"])
        )
        assert Client.objects.all_tenants().get(client_id="scripted").introspection_scripts == ["department"]


class TestUsersAndRoles:
    def test_create_user_with_password_and_roles(self, foo_admin, world):
        response = foo_admin.post(
            f"{ADMIN}/user/add/",
            {
                "username": "carol",
                "email": "carol@foo.example",
                "password1": "Xy9-long-pw",
                "password2": "Xy9-long-pw",
                "is_staff": "on",
                "roles": [world.rows[FOO]["role"].pk],
            },
        )
        assert response.status_code == 302
        carol = User.objects.for_tenant(world.tenants[FOO]).get(username="carol")
        assert carol.check_password("Xy9-long-pw")
        assert list(carol.roles.all()) == [world.rows[FOO]["role"]]

    def test_username_is_unique_per_tenant(self, foo_admin):
        response = foo_admin.post(
            f"{ADMIN}/user/add/",
            {"username": "alice", "password1": "Xy9-long-pw", "password2": "Xy9-long-pw"},
        )
        assert response.status_code == 200
        assert response.context["adminform"].form.errors

    def test_set_password(self, foo_admin, world):
        alice = world.rows[FOO]["user"]
        page = foo_admin.get(f"{ADMIN}/user/{alice.pk}/change/").content.decode()
        assert alice.password not in page
        response = foo_admin.post(
            f"{ADMIN}/user/{alice.pk}/password/",
            {"password1": "New-pw-123", "password2": "New-pw-123", "usable_password": "true"},
        )
        assert response.status_code == 302
        alice.refresh_from_db()
        assert alice.check_password("New-pw-123")

    def test_lock_and_unlock(self, foo_admin, world):
        alice, admin = world.rows[FOO]["user"], world.rows[FOO]["admin"]
        foo_admin.post(f"{ADMIN}/user/", {"action": "lock_users", "_selected_action": [alice.pk, admin.pk]})
        alice.refresh_from_db()
        admin.refresh_from_db()
        assert alice.is_locked and not alice.can_authenticate
        assert not admin.is_locked  # not yourself
        foo_admin.post(f"{ADMIN}/user/", {"action": "unlock_users", "_selected_action": [alice.pk]})
        alice.refresh_from_db()
        assert not alice.is_locked

    def test_permission_tree_is_shown_indented(self, foo_admin, world):
        page = foo_admin.get(f"{ADMIN}/role/{world.rows[FOO]['role'].pk}/change/").content.decode()
        for path in permissions.KNOWN_PERMISSIONS:
            assert f'value="{path}"' in page
        assert "calc(4 * 1.5em)" in page  # /permission/admin/manage/identity/usermgt is four deep

    def test_role_permissions_from_the_tree_and_typed(self, foo_admin, world):
        response = foo_admin.post(
            f"{ADMIN}/role/add/",
            {
                "name": "auditors",
                "known_permissions": ["/permission/admin/manage/identity/tokenmgt/view"],
                "other_permissions": "/permission/admin/manage/custom/audit",
            },
        )
        assert response.status_code == 302
        role = Role.objects.for_tenant(world.tenants[FOO]).get(name="auditors")
        assert role.permissions == [
            "/permission/admin/manage/custom/audit",
            "/permission/admin/manage/identity/tokenmgt/view",
        ]

        page = foo_admin.get(f"{ADMIN}/role/{role.pk}/change/").content.decode()
        assert "/permission/admin/manage/custom/audit</textarea>" in page

    def test_bad_permission_path_is_refused(self, foo_admin):
        response = foo_admin.post(f"{ADMIN}/role/add/", {"name": "bad", "other_permissions": "admin/login"})
        assert "other_permissions" in response.context["adminform"].form.errors

    def test_role_name_is_unique_per_tenant(self, foo_admin):
        response = foo_admin.post(f"{ADMIN}/role/add/", {"name": "readers"})
        assert response.status_code == 200
        assert response.context["adminform"].form.errors

    def test_user_page_shows_the_permissions_held(self, foo_admin, world):
        page = foo_admin.get(f"{ADMIN}/user/{world.rows[FOO]['admin'].pk}/change/").content.decode()
        assert "<code>/permission/admin</code>" in page


class TestTokens:
    def test_list_never_shows_a_token_value_or_digest(self, foo_admin, world):
        raw = secrets.token_urlsafe(32)
        AccessToken.objects.create(
            tenant=world.tenants[FOO],
            application=world.rows[FOO]["client"],
            scope="test1",
            expires=timezone.now() + timedelta(hours=1),
            token_checksum=token_checksum(raw),
        )
        for url in (
            f"{ADMIN}/accesstoken/",
            f"{ADMIN}/accesstoken/{world.rows[FOO]['accesstoken'].pk}/change/",
        ):
            page = foo_admin.get(url).content.decode()
            assert raw not in page and token_checksum(raw) not in page
            assert world.rows[FOO]["accesstoken"].token_checksum not in page

    def test_columns(self, foo_admin):
        response = foo_admin.get(f"{ADMIN}/accesstoken/")
        assert response.context["cl"].list_display[-6:] == [
            "client",
            "user",
            "scope",
            "issued",
            "expires",
            "state",
        ]

    @pytest.mark.parametrize(
        ("change", "state"),
        [({}, "active"), ({"revoked": timezone.now()}, "revoked"), ({"expires": timezone.now()}, "expired")],
    )
    def test_state_and_its_filter(self, foo_admin, world, change, state):
        token = world.rows[FOO]["accesstoken"]
        AccessToken.objects.for_tenant(world.tenants[FOO]).filter(pk=token.pk).update(**change)
        response = foo_admin.get(f"{ADMIN}/accesstoken/", {"state": state})
        assert listed(response) == [token]
        others = {"active", "expired", "revoked"} - {state}
        for other in others:
            assert listed(foo_admin.get(f"{ADMIN}/accesstoken/", {"state": other})) == []

    @pytest.mark.parametrize("term", ["app-id", "app", "alice", "nobody"])
    def test_search_by_client_or_user(self, foo_admin, world, term):
        found = listed(foo_admin.get(f"{ADMIN}/accesstoken/", {"q": term}))
        assert found == ([] if term == "nobody" else [world.rows[FOO]["accesstoken"]])

    def test_revoke_action_makes_the_token_inactive_at_introspection(self, foo_admin, world, caplog):
        caplog.set_level("DEBUG")
        raw = secrets.token_urlsafe(32)
        token = AccessToken.objects.create(
            tenant=world.tenants[FOO],
            application=world.rows[FOO]["client"],
            user=world.rows[FOO]["admin"],
            scope="test1",
            grant_type="client_credentials",
            expires=timezone.now() + timedelta(hours=1),
            token_checksum=token_checksum(raw),
        )

        def introspect() -> dict:
            response = foo_admin.post(
                "/t/foo.com/oauth2/introspect",
                {"token": raw},
                HTTP_AUTHORIZATION=basic("admin@foo.com", "admin"),
            )
            return json.loads(response.content)

        assert introspect()["active"] is True
        response = foo_admin.post(
            f"{ADMIN}/accesstoken/", {"action": "revoke_tokens", "_selected_action": [token.pk]}
        )
        assert response.status_code == 302
        token.refresh_from_db()
        assert token.revoked is not None
        assert introspect() == {"active": False}
        assert raw not in caplog.text

    def test_revoking_an_access_token_revokes_its_refresh_token(self, foo_admin, world):
        token, refresh = world.rows[FOO]["accesstoken"], world.rows[FOO]["refreshtoken"]
        foo_admin.post(f"{ADMIN}/accesstoken/", {"action": "revoke_tokens", "_selected_action": [token.pk]})
        refresh.refresh_from_db()
        token.refresh_from_db()
        assert refresh.revoked is not None and token.revoked is not None

    def test_revoke_refresh_token(self, foo_admin, world):
        refresh = world.rows[FOO]["refreshtoken"]
        foo_admin.post(
            f"{ADMIN}/refreshtoken/", {"action": "revoke_tokens", "_selected_action": [refresh.pk]}
        )
        refresh.refresh_from_db()
        assert refresh.revoked is not None
        assert AccessToken.objects.all_tenants().get(pk=world.rows[FOO]["accesstoken"].pk).revoked is not None

    @pytest.mark.parametrize("model", ["accesstoken", "refreshtoken", "grant", "idtoken", "signingkey"])
    def test_credentials_are_read_only(self, foo_admin, world, model):
        assert foo_admin.get(f"{ADMIN}/{model}/add/").status_code == 403
        row = world.rows[FOO][model]
        response = foo_admin.post(f"{ADMIN}/{model}/{row.pk}/delete/", {"post": "yes"})
        assert response.status_code == 403

    def test_deleting_a_client_takes_its_tokens(self, foo_admin, world):
        client = world.rows[FOO]["client"]
        response = foo_admin.post(f"{ADMIN}/client/{client.pk}/delete/", {"post": "yes"})
        assert response.status_code == 302
        assert not AccessToken.objects.for_tenant(world.tenants[FOO]).exists()

    def test_token_list_query_count_does_not_grow_with_rows(
        self, foo_admin, world, django_assert_max_num_queries
    ):
        foo_admin.get(f"{ADMIN}/accesstoken/")  # warm the session and tenant caches
        for _ in range(20):
            AccessToken.objects.create(
                tenant=world.tenants[FOO],
                application=world.rows[FOO]["client"],
                user=world.rows[FOO]["user"],
                expires=timezone.now() + timedelta(hours=1),
                token_checksum=token_checksum(secrets.token_urlsafe(32)),
            )
        with django_assert_max_num_queries(10):  # 9 today, whatever the number of rows
            foo_admin.get(f"{ADMIN}/accesstoken/")


class TestTenants:
    def test_operator_creates_a_tenant_with_its_admin_and_key(self, operator):
        response = operator.post(
            "/admin/tenants/tenant/add/",
            {
                "domain": "new.example",
                "name": "New",
                "admin_username": "boss",
                "password1": "Xy9-long-pw",
                "password2": "Xy9-long-pw",
            },
        )
        assert response.status_code == 302
        tenant = Tenant.objects.get(domain="new.example")
        boss = User.objects.for_tenant(tenant).get(username="boss")
        assert boss.is_staff and boss.is_tenant_admin and not boss.is_superuser
        assert boss.check_password("Xy9-long-pw")
        assert SigningKey.objects.for_tenant(tenant).count() == 1

    @pytest.mark.parametrize(
        ("fields", "error"),
        [
            ({"domain": "Not A Domain"}, "domain"),
            ({"domain": "foo.com"}, "domain"),
            ({"admin_username": "boss@new.example"}, "admin_username"),
            ({"password2": "other"}, "password2"),
        ],
    )
    def test_bad_tenant_forms_create_nothing(self, operator, fields, error):
        data = {
            "domain": "new.example",
            "name": "",
            "admin_username": "boss",
            "password1": "Xy9-long-pw",
            "password2": "Xy9-long-pw",
            **fields,
        }
        response = operator.post("/admin/tenants/tenant/add/", data)
        assert response.status_code == 200
        assert error in response.context["adminform"].form.errors
        assert not Tenant.objects.filter(domain="new.example").exists()

    def test_deactivate_makes_its_endpoints_404(self, operator, world):
        assert operator.get("/t/bar.com/health").status_code == 200
        operator.post(
            "/admin/tenants/tenant/", {"action": "deactivate", "_selected_action": [world.tenants[BAR].pk]}
        )
        assert operator.get("/t/bar.com/health").status_code == 404
        operator.post(
            "/admin/tenants/tenant/", {"action": "activate", "_selected_action": [world.tenants[BAR].pk]}
        )
        assert operator.get("/t/bar.com/health").status_code == 200

    def test_super_tenant_stays_active(self, operator, world):
        super_tenant = world.tenants[SUPER]
        operator.post(
            "/admin/tenants/tenant/", {"action": "deactivate", "_selected_action": [super_tenant.pk]}
        )
        assert Tenant.objects.get(pk=super_tenant.pk).active
        response = operator.post(f"/admin/tenants/tenant/{super_tenant.pk}/change/", {"name": "x"})
        assert "active" in response.context["adminform"].form.errors

    def test_tenants_are_not_deleted_here(self, operator, world):
        response = operator.get(f"/admin/tenants/tenant/{world.tenants[BAR].pk}/delete/")
        assert response.status_code == 403
