"""The admin hands out no more than the signed-in admin holds (findings 1 and 7 of the security audit).

Finding 1: a staff admin of the super tenant who was not a superuser could set the superuser's
password and take over every tenant. Finding 7: a tenant admin read its signing key, password
hashes and secret digests through typed list filters such as ``?private_key__gte=...``.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.conf import settings
from django.contrib import admin

from identity.models import Client, Role, User
from identity.provisioning import create_admin, create_user
from tenants.admin_scoping import secret_fields
from tests.support.worlds import fresh, tenants_with_admins
from tests.test_admin_scoping import make_tenant_rows

pytestmark = pytest.mark.django_db

SUPER = settings.DEPLOYMENT.tenant.super_tenant_domain
FOO, BAR = "foo.com", "bar.com"
ADMIN = "/admin/identity"
NEW_PASSWORD = "Taken-over-9"


@pytest.fixture(scope="module")
def world(build_once):
    def make():
        tenants = tenants_with_admins(SUPER, FOO, BAR)
        operator = User.objects.for_tenant(tenants[SUPER]).get(username="admin")
        # A staff admin of the super tenant holding /permission/admin, but no superuser.
        deputy = create_admin(tenants[SUPER], "deputy", "deputy-pw")
        deputy.is_superuser = False
        deputy.save(update_fields=["is_superuser"])
        peer = create_admin(tenants[FOO], "peer", "peer-pw")  # another staff admin of foo.com
        wide = Role.objects.create(tenant=tenants[FOO], name="wide", permissions=["/permission"])
        narrow = Role.objects.create(
            tenant=tenants[FOO], name="narrow", permissions=["/permission/admin/login"]
        )
        powerful = create_user(tenants[FOO], "powerful", "powerful-pw")
        powerful.roles.add(wide)
        rows = {domain: make_tenant_rows(tenants[domain]) for domain in (FOO, BAR)}
        return SimpleNamespace(
            tenants=tenants,
            operator=operator,
            deputy=deputy,
            foo_admin=rows[FOO]["admin"],
            peer=peer,
            wide=wide,
            narrow=narrow,
            powerful=powerful,
            rows=rows,
        )

    return build_once(make)


@pytest.fixture
def signed_in(client, world):
    """Return a function signing the test client in as one of the world's admins."""

    def sign_in(name: str):
        client.force_login(getattr(world, name))
        return client

    return sign_in


def set_password(client, user: User):
    return client.post(
        f"{ADMIN}/user/{user.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "set_usable_password": "true"},
    )


class TestPasswords:
    """Finding 1: only an operator sets another admin's password."""

    # who signs in, whose password, may they
    CASES = [
        ("deputy", "operator", False),
        ("deputy", "deputy", True),
        ("foo_admin", "peer", False),
        ("foo_admin", "powerful", False),  # holds /permission, more than foo.com's admin
        ("foo_admin", "foo_admin", True),
        ("operator", "deputy", True),
        ("operator", "peer", True),
    ]

    @pytest.mark.parametrize(("actor", "target", "allowed"), CASES)
    def test_set_password(self, signed_in, world, actor, target, allowed):
        """Finding 1: a non-superuser staff admin set the superuser's password."""
        client = signed_in(actor)
        user = getattr(world, target)
        page = client.get(f"{ADMIN}/user/{user.pk}/password/")
        response = set_password(client, user)
        assert fresh(user).check_password(NEW_PASSWORD) is allowed
        assert (page.status_code, response.status_code) == ((200, 302) if allowed else (403, 403))


class TestSuperusersAndStaff:
    """Finding 1: only an operator creates or changes a superuser or a staff flag."""

    def test_deputy_cannot_change_the_superuser(self, signed_in, world):
        client = signed_in("deputy")
        operator = world.operator
        response = client.post(
            f"{ADMIN}/user/{operator.pk}/change/",
            {"username": "admin", "email": "attacker@evil.example", "is_active": "on"},
        )
        assert response.status_code == 403
        assert fresh(operator).email == ""

    def test_deputy_cannot_lock_nor_delete_the_superuser(self, signed_in, world):
        client = signed_in("deputy")
        selected = {"_selected_action": [world.operator.pk]}
        client.post(f"{ADMIN}/user/", {"action": "lock_users", **selected})
        client.post(f"{ADMIN}/user/", {"action": "delete_selected", "post": "yes", **selected})
        assert client.get(f"{ADMIN}/user/{world.operator.pk}/delete/").status_code == 403
        assert not fresh(world.operator).is_locked

    @pytest.mark.parametrize("actor", ["deputy", "foo_admin"])
    def test_flags_are_not_on_a_non_superusers_forms(self, signed_in, world, actor):
        client = signed_in(actor)
        alice = User.objects.all_tenants().get(tenant=getattr(world, actor).tenant, username="admin")
        add = client.get(f"{ADMIN}/user/add/").context["adminform"].form
        change = client.get(f"{ADMIN}/user/{alice.pk}/change/").context["adminform"].form
        for form in (add, change):
            assert "is_superuser" not in form.fields and "is_staff" not in form.fields

    @pytest.mark.parametrize(
        ("actor", "made_admin"), [("deputy", False), ("foo_admin", False), ("operator", True)]
    )
    def test_create_a_superuser_or_staff(self, signed_in, world, actor, made_admin):
        """Finding 1: the flags posted by a non-superuser are ignored."""
        client = signed_in(actor)
        tenant = getattr(world, actor).tenant
        response = client.post(
            f"{ADMIN}/user/add/",
            {
                "tenant": tenant.pk,
                "username": "mallory",
                "password1": "Xy9-long-pw",
                "password2": "Xy9-long-pw",
                "is_staff": "on",
                "is_superuser": "on" if tenant.is_super else "",
            },
        )
        assert response.status_code == 302
        mallory = User.objects.for_tenant(tenant).get(username="mallory")
        assert mallory.is_staff is made_admin
        assert mallory.is_superuser is (made_admin and tenant.is_super)

    def test_staff_flag_of_an_existing_user(self, signed_in, world):
        alice = world.rows[FOO]["user"]
        signed_in("foo_admin").post(
            f"{ADMIN}/user/{alice.pk}/change/",
            {"username": "alice", "is_active": "on", "is_staff": "on", "roles": [world.rows[FOO]["role"].pk]},
        )
        assert fresh(alice).is_staff is False


class TestGrants:
    """Finding 1: a tenant admin grants only the permissions it holds."""

    # role permissions typed on the role form, allowed for foo.com's admin (holding /permission/admin)
    ROLE_CASES = [
        (["/permission/admin/login"], True),
        (["/permission/admin/manage/custom/thing"], True),
        (["/permission/admin"], True),
        (["/permission"], False),
        (["/permission/other"], False),
        (["/permission/administrator"], False),  # not below /permission/admin
    ]

    @pytest.mark.parametrize(("paths", "allowed"), ROLE_CASES)
    def test_role_permissions(self, signed_in, world, paths, allowed):
        client = signed_in("foo_admin")
        response = client.post(f"{ADMIN}/role/add/", {"name": "new", "other_permissions": "\n".join(paths)})
        created = Role.objects.for_tenant(world.tenants[FOO]).filter(name="new").first()
        assert (created is not None) is allowed
        if not allowed:
            assert "you may grant only permissions you hold" in response.content.decode()

    def test_operator_grants_anything(self, signed_in, world):
        client = signed_in("operator")
        client.post(
            f"{ADMIN}/role/add/",
            {"tenant": world.tenants[FOO].pk, "name": "new", "other_permissions": "/permission"},
        )
        assert Role.objects.for_tenant(world.tenants[FOO]).get(name="new").permissions == ["/permission"]

    def test_a_role_keeps_what_it_had(self, signed_in, world):
        """Editing a role that holds more than the admin keeps it; nothing more is added."""
        client = signed_in("foo_admin")
        response = client.post(
            f"{ADMIN}/role/{world.wide.pk}/change/",
            {"name": "wide renamed", "other_permissions": "/permission"},
        )
        assert response.status_code == 302
        assert Role.objects.for_tenant(world.tenants[FOO]).get(pk=world.wide.pk).name == "wide renamed"

    @pytest.mark.parametrize(("role", "allowed"), [("narrow", True), ("wide", False)])
    def test_giving_a_user_a_role(self, signed_in, world, role, allowed):
        alice = world.rows[FOO]["user"]
        client = signed_in("foo_admin")
        response = client.post(
            f"{ADMIN}/user/{alice.pk}/change/",
            {"username": "alice", "is_active": "on", "roles": [getattr(world, role).pk]},
        )
        assert (getattr(world, role) in fresh(alice).roles.all()) is allowed
        assert response.status_code == (302 if allowed else 200)

    def test_a_new_user_with_a_role_it_does_not_hold(self, signed_in, world):
        client = signed_in("foo_admin")
        client.post(
            f"{ADMIN}/user/add/",
            {
                "username": "eve",
                "password1": "Xy9-long-pw",
                "password2": "Xy9-long-pw",
                "roles": [world.wide.pk],
            },
        )
        assert not User.objects.for_tenant(world.tenants[FOO]).filter(username="eve").exists()

    @pytest.mark.parametrize(
        ("owner", "allowed"), [("foo_admin", True), ("peer", False), ("powerful", False)]
    )
    def test_client_owner(self, signed_in, world, owner, allowed):
        """A client's tokens act for its owner: owning one with a stronger user is escalation."""
        client = signed_in("foo_admin")
        client.post(
            f"{ADMIN}/client/add/",
            {
                "name": "mine",
                "client_id": "mine-id",
                "client_type": "confidential",
                "user": getattr(world, owner).pk,
                "grant_types": ["client_credentials"],
                "token_format": "opaque",
                "access_token_lifetime": 3600,
                "refresh_token_lifetime": 86400,
            },
        )
        made = Client.objects.for_tenant(world.tenants[FOO]).filter(client_id="mine-id").first()
        assert (made is not None) is allowed

    # who signs in, the owner of the client, may they change it
    TAKING_A_CLIENT = [
        ("foo_admin", "foo_admin", True),
        ("foo_admin", "peer", False),
        ("foo_admin", "powerful", False),
        ("deputy", "operator", False),
        ("operator", "deputy", True),
    ]

    @pytest.mark.parametrize(("actor", "owner", "allowed"), TAKING_A_CLIENT)
    def test_rotate_secret(self, signed_in, world, actor, owner, allowed):
        """Rotating a client's secret is taking the client, and with it its owner's powers."""
        taken = owned_client(getattr(world, owner))
        before = fresh(taken).client_secret
        client = signed_in(actor)
        url = f"{ADMIN}/client/{taken.pk}/rotate-secret/"
        page, response = client.get(url), client.post(url)
        assert (fresh(taken).client_secret != before) is allowed
        assert (page.status_code, response.status_code) == ((200, 200) if allowed else (403, 403))

    @pytest.mark.parametrize(("actor", "owner", "allowed"), TAKING_A_CLIENT)
    def test_change_a_client(self, signed_in, world, actor, owner, allowed):
        """Regression: an admin who may not rotate a stronger owner's client could still change
        its redirect URIs (and send its users' codes anywhere), scopes or grant types."""
        taken = owned_client(getattr(world, owner))
        client = signed_in(actor)
        form = {
            "name": "owned",
            "user": taken.user_id,
            "grant_types": ["authorization_code"],
            "redirect_uris": "https://attacker.example/cb",
            "allowed_scopes": "internal_user_mgt_update",
            "token_format": "opaque",
        }
        response = client.post(f"{ADMIN}/client/{taken.pk}/change/", form)
        assert (fresh(taken).redirect_uris == form["redirect_uris"]) is allowed
        assert response.status_code == (302 if allowed else 403)

    @pytest.mark.parametrize(("actor", "owner", "allowed"), TAKING_A_CLIENT)
    def test_delete_a_client(self, signed_in, world, actor, owner, allowed):
        taken = owned_client(getattr(world, owner))
        client = signed_in(actor)
        client.post(f"{ADMIN}/client/{taken.pk}/delete/", {"post": "yes"})
        client.post(
            f"{ADMIN}/client/", {"action": "delete_selected", "_selected_action": [taken.pk], "post": "yes"}
        )
        assert (not Client.objects.all_tenants().filter(pk=taken.pk).exists()) is allowed


def owned_client(owner: User) -> Client:
    """Return a new confidential client of ``owner``'s tenant, owned by ``owner``."""
    return Client.objects.create(
        tenant=owner.tenant,
        name="owned",
        client_id="owned-id",
        client_type=Client.CLIENT_CONFIDENTIAL,
        grant_types=["client_credentials"],
        user=owner,
    )


# Every secret field of every admin model, and lookups that reach it, directly and through relations.
SECRET_LOOKUPS = [
    ("user", "password"),
    ("user", "password__gte"),
    ("user", "password__startswith"),
    ("client", "client_secret__gte"),
    ("client", "registration_access_token_digest__gte"),
    ("client", "user__password__startswith"),
    ("accesstoken", "token__gte"),
    ("accesstoken", "token_checksum__gte"),
    ("accesstoken", "user__password__gte"),
    ("accesstoken", "application__client_secret__gte"),
    ("refreshtoken", "token__gte"),
    ("refreshtoken", "token_checksum__gte"),
    ("refreshtoken", "access_token__token_checksum__gte"),
    ("grant", "code__gte"),
    ("grant", "code_challenge__gte"),
    ("grant", "nonce__gte"),
    ("idtoken", "user__password__gte"),
    ("role", "users__password__gte"),
    ("signingkey", "private_key__gte"),
    ("signingkey", "private_key__startswith"),
]
# model, field: the secret fields the table above must reach directly
SECRET_FIELDS = {
    ("user", "password"),
    ("client", "client_secret"),
    ("client", "registration_access_token_digest"),
    ("accesstoken", "token"),
    ("accesstoken", "token_checksum"),
    ("refreshtoken", "token"),
    ("refreshtoken", "token_checksum"),
    ("grant", "code"),
    ("grant", "code_challenge"),
    ("grant", "nonce"),
    ("signingkey", "private_key"),
}


class TestSecretFieldsAreNoLookups:
    """Finding 7: ``?private_key__gte=...`` bisected a tenant's signing key out of the list."""

    def test_the_table_names_every_secret_field_of_every_admin_model(self):
        declared = {
            (model._meta.model_name, name) for model in admin.site._registry for name in secret_fields(model)
        }
        assert declared == SECRET_FIELDS
        assert {(m, lookup.split("__")[0]) for m, lookup in SECRET_LOOKUPS} >= SECRET_FIELDS

    @pytest.mark.parametrize("actor", ["foo_admin", "operator"])
    @pytest.mark.parametrize(("model", "lookup"), SECRET_LOOKUPS)
    def test_lookup_is_refused(self, signed_in, actor, model, lookup):
        response = signed_in(actor).get(f"{ADMIN}/{model}/", {lookup: "-"})
        assert response.status_code == 400

    @pytest.mark.parametrize("actor", ["foo_admin", "operator"])
    @pytest.mark.parametrize("model_admin", list(admin.site._registry.values()), ids=str)
    def test_no_column_filter_search_or_ordering(self, rf, world, actor, model_admin):
        request = rf.get("/")
        request.user = getattr(world, actor)
        secrets = secret_fields(model_admin.model)
        used = [
            *[c for c in model_admin.get_list_display(request) if isinstance(c, str)],
            *[
                f if isinstance(f, str) else f[0]
                for f in model_admin.get_list_filter(request)
                if not isinstance(f, type)
            ],
            *[f.lstrip("=^@") for f in model_admin.get_search_fields(request)],
            *[f.lstrip("-") for f in model_admin.get_ordering(request) or ()],
        ]
        assert not [f for f in used if f.split("__")[0] in secrets]

    def test_ordinary_filters_still_work(self, signed_in):
        assert (
            signed_in("foo_admin").get(f"{ADMIN}/signingkey/", {"algorithm__exact": "RS256"}).status_code
            == 200
        )
