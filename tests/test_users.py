"""Users, roles and permissions of a tenant; the createtenant and createuser commands (docs/admin.md,
docs/commands.md)."""

from __future__ import annotations

import dataclasses
import json
from io import StringIO
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.contrib.auth import authenticate
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from django.test import override_settings

from identity import permissions
from identity.models import Role, User
from identity.provisioning import create_admin, create_user
from identity.services import tenants as tenant_services
from identity.usernames import resolve_login
from tenants.models import Tenant
from tests.support.auth import basic_auth

pytestmark = pytest.mark.django_db

INTROSPECT_VIEW = "/permission/admin/manage/identity/applicationmgt/view"


def emails_allowed(allowed: bool) -> override_settings:
    """Return settings where ``[tenant] email_usernames`` is ``allowed``."""
    tenant = dataclasses.replace(settings.DEPLOYMENT.tenant, email_usernames=allowed)
    return override_settings(DEPLOYMENT=dataclasses.replace(settings.DEPLOYMENT, tenant=tenant))


@pytest.fixture(scope="module")
def world(build_once):
    def make():
        root = Tenant.objects.create(domain="carbon.super")
        foo = Tenant.objects.create(domain="foo.com")
        sleepy = Tenant.objects.create(domain="sleepy.org", active=False)
        users = {
            "admin@carbon.super": create_admin(root, "admin", "pw-root"),
            "admin@foo.com": create_admin(foo, "admin", "pw-foo"),
            "viewer@foo.com": create_user(foo, "viewer", "pw-viewer", [INTROSPECT_VIEW]),
            "alice@foo.com": create_user(foo, "alice", "pw-alice"),
            "locked@foo.com": User.objects.create_user(foo, "locked", "pw-locked", is_locked=True),
            "gone@foo.com": User.objects.create_user(foo, "gone", "pw-gone", is_active=False),
            "admin@sleepy.org": create_admin(sleepy, "admin", "pw-sleepy"),
        }
        # A whole username with an @ that names no tenant, where e-mail usernames are allowed.
        with emails_allowed(True):
            users["bob@example.org@carbon.super"] = create_user(root, "bob@example.org", "pw-bob")
        return SimpleNamespace(root=root, foo=foo, sleepy=sleepy, users=users)

    return build_once(make)


class TestResolveLogin:
    """``user`` is the super tenant's (or the implied tenant's), ``user@tenant`` the tenant's."""

    @pytest.mark.parametrize(
        ("login", "default_tenant", "expected"),
        [
            ("admin", None, ("carbon.super", "admin")),
            ("admin@carbon.super", None, ("carbon.super", "admin")),
            ("admin@foo.com", None, ("foo.com", "admin")),
            ("admin@foo.com", "carbon.super", ("foo.com", "admin")),
            ("admin", "foo.com", ("foo.com", "admin")),
            ("bob@example.org", None, ("carbon.super", "bob@example.org")),
            ("bob@example.org", "foo.com", ("foo.com", "bob@example.org")),
            ("bob@example.org@foo.com", None, ("foo.com", "bob@example.org")),
            ("admin@FOO.COM", None, ("carbon.super", "admin@FOO.COM")),
            ("@foo.com", None, ("carbon.super", "@foo.com")),
            ("admin@", None, ("carbon.super", "admin@")),
            ("", None, ("carbon.super", "")),
            # An inactive tenant, named or implied: nobody of it signs in.
            ("admin@sleepy.org", None, None),
            ("admin@sleepy.org", "foo.com", None),
            ("admin", "sleepy.org", None),
        ],
    )
    def test_resolve_login(self, world, login, default_tenant, expected):
        default = Tenant.objects.get(domain=default_tenant) if default_tenant else None
        resolved = resolve_login(login, default_tenant=default)
        assert (resolved and (resolved[0].domain, resolved[1])) == expected

    def test_natural_key_is_the_qualified_name(self, world):
        admin = world.users["admin@foo.com"]
        assert admin.natural_key() == ("admin@foo.com",)
        assert User.objects.get_by_natural_key("admin@foo.com") == admin
        assert User.objects.get_by_natural_key("admin") == world.users["admin@carbon.super"]
        with pytest.raises(User.DoesNotExist):
            User.objects.get_by_natural_key("admin@sleepy.org")


class TestAuthenticate:
    """Django's password hashers; locked, inactive and inactive-tenant users are refused (docs/admin.md)."""

    @pytest.mark.parametrize(
        ("login", "password", "tenant", "expected"),
        [
            ("admin", "pw-root", None, "admin@carbon.super"),
            ("admin@carbon.super", "pw-root", None, "admin@carbon.super"),
            ("admin@foo.com", "pw-foo", None, "admin@foo.com"),
            ("admin", "pw-foo", "foo.com", "admin@foo.com"),
            ("viewer@foo.com", "pw-viewer", None, "viewer@foo.com"),
            ("bob@example.org", "pw-bob", None, "bob@example.org@carbon.super"),
            ("admin", "pw-foo", None, None),  # foo.com's password, super tenant's admin
            ("admin@foo.com", "pw-root", None, None),
            ("admin@foo.com", "PW-FOO", None, None),
            ("admin@foo.com", "", None, None),
            ("nobody@foo.com", "pw-foo", None, None),
            ("locked@foo.com", "pw-locked", None, None),
            ("gone@foo.com", "pw-gone", None, None),
            ("admin@sleepy.org", "pw-sleepy", None, None),
            ("admin", "pw-sleepy", "sleepy.org", None),
            # Regression: a NUL reached PostgreSQL, which raised DataError (a 500 at the login).
            ("adm\x00in", "pw-root", None, None),
            ("admin@foo.com\x00", "pw-foo", None, None),
        ],
    )
    def test_authenticate(self, world, login, password, tenant, expected):
        kwargs = {"tenant": Tenant.objects.get(domain=tenant)} if tenant else {}
        user = authenticate(None, username=login, password=password, **kwargs)
        assert user == (world.users[expected] if expected else None)

    def test_session_user_of_a_deactivated_tenant_is_gone(self, world):
        from identity.backends import TenantUserBackend

        backend = TenantUserBackend()
        assert backend.get_user(world.users["admin@foo.com"].pk) == world.users["admin@foo.com"]
        assert backend.get_user(world.users["locked@foo.com"].pk) is None
        assert backend.get_user(world.users["admin@sleepy.org"].pk) is None
        assert backend.get_user(0) is None

    def test_password_is_hashed(self, world):
        admin = User.objects.for_tenant(world.foo).get(username="admin")
        assert admin.password.startswith("md5$")  # the test settings' hasher
        assert "pw-foo" not in admin.password


class TestUsernamesPerTenant:
    def test_same_username_in_two_tenants(self, world):
        assert {str(u) for u in User.objects.all_tenants().filter(username="admin")} == {
            "admin@carbon.super",
            "admin@foo.com",
            "admin@sleepy.org",
        }

    def test_unique_within_a_tenant(self, world):
        with pytest.raises(ValidationError, match="already exists"):
            User.objects.create_user(world.foo, "alice", "pw")

    def test_unique_in_the_database_too(self, world):
        with pytest.raises(IntegrityError), transaction.atomic():
            User(tenant=world.foo, username="alice").save()

    def test_qualified_name(self, world):
        assert str(world.users["admin@carbon.super"]) == "admin@carbon.super"
        assert world.users["admin@foo.com"].qualified_name == "admin@foo.com"

    def test_username_with_its_own_tenant_suffix_is_refused(self, world):
        with pytest.raises(ValidationError, match="without its @tenant suffix"):
            User.objects.create_user(world.foo, "carol@foo.com", "pw")


class TestPermissionPaths:
    """Permission paths are hierarchical, segment by segment (docs/admin.md)."""

    @pytest.mark.parametrize(
        ("held", "wanted", "granted"),
        [
            ("/permission/admin", "/permission/admin", True),
            ("/permission/admin", INTROSPECT_VIEW, True),
            ("/permission/admin", "/permission/admin/login", True),
            ("/permission/admin/", "/permission/admin/login", True),
            ("/permission", INTROSPECT_VIEW, True),
            (INTROSPECT_VIEW, INTROSPECT_VIEW, True),
            ("/permission/admin", "/permission/administrator", False),
            ("/permission/admin", "/permission/admi", False),
            ("/permission/admin", "/permission", False),
            (INTROSPECT_VIEW, "/permission/admin", False),
            (INTROSPECT_VIEW, "/permission/admin/manage/identity/applicationmgt/viewer", False),
            (INTROSPECT_VIEW, "/permission/admin/manage/identity/applicationmgt/create", False),
            ("/permission/admin/manage/identity/usermgt", INTROSPECT_VIEW, False),
        ],
    )
    def test_grants(self, held, wanted, granted):
        assert permissions.grants(held, wanted) is granted

    @pytest.mark.parametrize(
        ("held", "wanted", "granted"),
        [
            (["/permission/admin"], [INTROSPECT_VIEW], True),
            (["/permission/admin/login", "/permission/admin/manage"], [INTROSPECT_VIEW], True),
            (["/permission/admin/login"], ["/permission/admin/manage", "/permission/admin/login"], True),
            (["/permission/admin/login"], [INTROSPECT_VIEW, "/permission/admin/manage"], False),
            ([], [INTROSPECT_VIEW], False),
            (["/permission/admin"], [], False),
        ],
    )
    def test_any_of(self, held, wanted, granted):
        assert permissions.holds_any(held, wanted) is granted

    @pytest.mark.parametrize(
        ("path", "valid"),
        [
            ("/permission", True),
            ("/permission/admin", True),
            (INTROSPECT_VIEW, True),
            ("/permission/admin/", False),
            ("/permission//admin", False),
            ("/permissions/admin", False),
            ("permission/admin", False),
            ("/permission/ad min", False),
            ("", False),
        ],
    )
    def test_valid_paths(self, path, valid):
        assert permissions.is_valid_path(path) is valid

    def test_known_permissions_are_valid(self):
        assert all(permissions.is_valid_path(path) for path in permissions.KNOWN_PERMISSIONS)


class TestUserPermissions:
    """Users hold permissions through the roles of their tenant (docs/admin.md)."""

    @pytest.mark.parametrize(
        ("user", "wanted", "held"),
        [
            ("admin@foo.com", [INTROSPECT_VIEW], True),
            ("admin@foo.com", ["/permission/administrator"], False),
            ("admin@carbon.super", [INTROSPECT_VIEW], True),
            ("viewer@foo.com", [INTROSPECT_VIEW], True),
            ("viewer@foo.com", ["/permission/admin"], False),
            ("viewer@foo.com", ["/permission/admin", INTROSPECT_VIEW], True),
            ("alice@foo.com", [INTROSPECT_VIEW], False),
        ],
    )
    def test_has_any_permission(self, world, user, wanted, held):
        fresh = User.objects.all_tenants().get(pk=world.users[user].pk)
        assert fresh.has_any_permission(wanted) is held

    def test_locked_user_holds_nothing(self, world):
        locked = User.objects.for_tenant(world.foo).get(username="locked")
        locked.roles.add(Role.objects.for_tenant(world.foo).get(name="admin"))
        assert locked.permission_paths() == {"/permission/admin"}
        assert locked.has_any_permission([INTROSPECT_VIEW]) is False

    def test_first_admin_of_a_tenant(self, world):
        admin = User.objects.for_tenant(world.foo).get(username="admin")
        assert admin.permission_paths() == {permissions.ADMIN}
        assert (admin.is_staff, admin.is_superuser, admin.is_tenant_admin) == (True, False, True)
        root = User.objects.for_tenant(world.root).get(username="admin")
        assert (root.is_staff, root.is_superuser) == (True, True)

    def test_role_permissions_are_validated(self, world):
        role = Role(tenant=world.foo, name="bad", permissions=["/permission/admin", "admin"])
        with pytest.raises(ValidationError, match="'admin' is not a permission path"):
            role.full_clean()


class TestRolesOfOwnTenant:
    """A user can hold only roles of its own tenant (identity/signals.py)."""

    def test_role_of_another_tenant_is_refused(self, world):
        alice = world.users["alice@foo.com"]
        root_admin_role = Role.objects.for_tenant(world.root).get(name="admin")
        # The refused add breaks the transaction it runs in: give it its own.
        with pytest.raises(ValidationError, match="own tenant"), transaction.atomic():
            alice.roles.add(root_admin_role)
        assert alice.roles.count() == 0

    def test_user_of_another_tenant_is_refused(self, world):
        foo_role = Role.objects.for_tenant(world.foo).get(name="admin")
        with pytest.raises(ValidationError, match="own tenant"), transaction.atomic():
            foo_role.users.add(world.users["admin@carbon.super"])
        assert not foo_role.users.filter(pk=world.users["admin@carbon.super"].pk).exists()

    def test_one_foreign_role_among_several_refuses_all(self, world):
        alice = world.users["alice@foo.com"]
        own = Role.objects.create(tenant=world.foo, name="reader", permissions=[INTROSPECT_VIEW])
        foreign = Role.objects.for_tenant(world.root).get(name="admin")
        with pytest.raises(ValidationError), transaction.atomic():
            alice.roles.add(own, foreign)
        assert alice.roles.count() == 0

    def test_role_of_own_tenant(self, world):
        alice = world.users["alice@foo.com"]
        alice.roles.add(Role.objects.create(tenant=world.foo, name="reader", permissions=[INTROSPECT_VIEW]))
        assert User.objects.all_tenants().get(pk=alice.pk).has_any_permission([INTROSPECT_VIEW])


class TestAdminLogin:
    """The Django admin's login works for the super tenant's admin."""

    def test_super_tenant_admin_signs_in(self, client, world):
        response = client.post(
            "/admin/login/?next=/admin/",
            {"username": "admin", "password": "pw-root", "next": "/admin/"},
            secure=True,
        )
        assert response.status_code == 302
        assert response["Location"] == "/admin/"
        index = client.get("/admin/", secure=True)
        assert index.status_code == 200
        assert index.wsgi_request.user == world.users["admin@carbon.super"]

    @pytest.mark.parametrize(
        ("username", "password"),
        [
            ("admin", "wrong"),
            ("admin", "pw-foo"),
            ("locked@foo.com", "pw-locked"),
            ("alice@foo.com", "pw-alice"),  # not staff
            ("admin@sleepy.org", "pw-sleepy"),
            ("adm\x00in", "pw-root"),
        ],
    )
    def test_refused(self, client, world, username, password):
        response = client.post("/admin/login/", {"username": username, "password": password}, secure=True)
        assert response.status_code == 200
        assert response.context["form"].errors
        assert "_auth_user_id" not in client.session


def run(command: str, *args: str) -> str:
    out = StringIO()
    call_command(command, *args, stdout=out, stderr=StringIO())
    return out.getvalue()


class TestCreateTenantCommand:
    def test_creates_tenant_admin_and_key(self, world):
        from identity.models import SigningKey

        out = run("createtenant", "acme.test", "--admin", "boss", "--password", "pw-boss", "--name", "Acme")
        assert out.strip() == "created tenant acme.test with admin boss@acme.test"
        acme = Tenant.objects.get(domain="acme.test")
        assert (acme.name, acme.active) == ("Acme", True)
        boss = authenticate(None, username="boss@acme.test", password="pw-boss")
        assert boss is not None and boss.has_any_permission([permissions.ADMIN])
        assert SigningKey.objects.for_tenant(acme).count() == 1

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["foo.com", "--admin", "a", "--password", "p"], "already exists"),
            (["carbon.super", "--admin", "a", "--password", "p"], "already exists"),
            (["Acme.Test", "--admin", "a", "--password", "p"], "not a valid tenant domain"),
            (["acme_test", "--admin", "a", "--password", "p"], "not a valid tenant domain"),
            (["acme.test.", "--admin", "a", "--password", "p"], "not a valid tenant domain"),
            (["a" * 254, "--admin", "a", "--password", "p"], "not created"),
            # The tenant is valid, its admin is not: nothing of it may stay.
            (["acme.test", "--admin", "boss@acme.test", "--password", "p"], "without its @tenant suffix"),
            (["acme.test", "--admin", "", "--password", "p"], "not created"),
            (["acme.test", "--admin", "x" * 151, "--password", "p"], "at most 150"),
            # bob@example.org of the super tenant would sign in as example.org's bob.
            (["example.org", "--admin", "a", "--password", "p"], "bob@example.org"),
        ],
    )
    def test_refused_and_nothing_created(self, world, args, message):
        tenants, users = Tenant.objects.count(), User.objects.all_tenants().count()
        with pytest.raises(CommandError, match=message):
            run("createtenant", *args)
        assert (Tenant.objects.count(), User.objects.all_tenants().count()) == (tenants, users)
        assert Role.objects.all_tenants().filter(tenant__domain="acme.test").count() == 0

    def test_required_options(self, world):
        with pytest.raises(CommandError, match="--admin"):
            run("createtenant", "acme.test", "--password", "p")


class TestCreateUserCommand:
    def test_creates_user_with_permissions(self, world):
        out = run(
            "createuser",
            "carol",
            "--tenant",
            "foo.com",
            "--password",
            "pw-carol",
            "--permission",
            INTROSPECT_VIEW,
            "/permission/admin/login",
            "--permission",
            "/permission/admin/manage/identity/usermgt/view",
        )
        assert out.strip() == "created user carol@foo.com"
        carol = authenticate(None, username="carol@foo.com", password="pw-carol")
        assert carol.permission_paths() == {
            INTROSPECT_VIEW,
            "/permission/admin/login",
            "/permission/admin/manage/identity/usermgt/view",
        }
        assert carol.is_staff is False

    def test_creates_user_without_permissions(self, world):
        run("createuser", "dave", "--tenant", "carbon.super", "--password", "pw")
        dave = authenticate(None, username="dave", password="pw")
        assert dave.permission_paths() == set()
        assert Role.objects.for_tenant(world.root).filter(name="user:dave").exists() is False

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (
                ["carol", "--tenant", "nowhere.test", "--password", "p"],
                "tenant 'nowhere.test' does not exist",
            ),
            (["carol", "--tenant", "foo.com", "--password", "p", "--permission", "admin"], "admin"),
            (
                [
                    "carol",
                    "--tenant",
                    "foo.com",
                    "--password",
                    "p",
                    "--permission",
                    "/permission/a",
                    "/perm/b",
                ],
                "not a permission path: /perm/b",
            ),
            (["alice", "--tenant", "foo.com", "--password", "p"], "'alice@foo.com' already exists"),
            (["carol@foo.com", "--tenant", "foo.com", "--password", "p"], "without its @tenant suffix"),
            (["x" * 151, "--tenant", "foo.com", "--password", "p"], "at most 150"),
            # Regression: a role name over 150 characters reached the INSERT (DataError on PostgreSQL).
            (
                ["x" * 150, "--tenant", "foo.com", "--password", "p", "--permission", "/permission/admin"],
                "at most 150",
            ),
        ],
    )
    def test_refused_and_nothing_created(self, world, args, message):
        users, roles = User.objects.all_tenants().count(), Role.objects.all_tenants().count()
        with pytest.raises(CommandError, match=message):
            run("createuser", *args)
        assert (User.objects.all_tenants().count(), Role.objects.all_tenants().count()) == (users, roles)


class TestUsernames:
    """Finding 14 of the security audit: ``admin@carbon.super`` could be created inside foo.com,
    and then showed as ``sub``. One validator, for the model, the admin's forms and the command."""

    # email_usernames, username (in foo.com), valid
    CASES = [
        (False, "alice2", True),
        (False, "bob@example.org", False),
        (False, "admin@carbon.super", False),
        (False, "x@", False),
        (True, "bob@example.org", True),
        (True, "admin@carbon.super", False),
        (True, "admin@CARBON.SUPER", False),
        (True, "admin@sleepy.org", False),  # an inactive tenant is a tenant still
        (True, "admin@foo.com", False),
        (True, "bob@example.org@carbon.super", False),
    ]

    @pytest.mark.parametrize(("emails", "username", "valid"), CASES)
    def test_model(self, world, emails, username, valid):
        with emails_allowed(emails):
            if valid:
                assert create_user(world.foo, username, "pw").username == username
            else:
                with pytest.raises(ValidationError) as raised:
                    create_user(world.foo, username, "pw")
                assert "username" in raised.value.message_dict

    @pytest.mark.parametrize(("emails", "username", "valid"), CASES)
    def test_command(self, world, emails, username, valid):
        with emails_allowed(emails):
            if valid:
                call_command(
                    "createuser", username, "--tenant", "foo.com", "--password", "pw", stdout=StringIO()
                )
            else:
                with pytest.raises(CommandError, match="username"):
                    call_command("createuser", username, "--tenant", "foo.com", "--password", "pw")
        assert User.objects.for_tenant(world.foo).filter(username=username).exists() is valid

    @pytest.mark.parametrize(("emails", "username", "valid"), CASES)
    def test_admin_form(self, client, world, emails, username, valid):
        client.force_login(world.users["admin@foo.com"])
        with emails_allowed(emails):
            response = client.post(
                "/admin/identity/user/add/",
                {"username": username, "password1": "Xy9-long-pw", "password2": "Xy9-long-pw"},
            )
        assert response.status_code == (302 if valid else 200)
        assert User.objects.for_tenant(world.foo).filter(username=username).exists() is valid

    @pytest.mark.parametrize(("emails", "username", "valid"), CASES)
    def test_management_api(self, client, world, emails, username, valid):
        with emails_allowed(emails):
            response = client.post(
                "/t/foo.com/api/v1/users",
                json.dumps({"username": username, "password": "Xy9-long-pw"}),
                content_type="application/json",
                secure=True,
                headers=basic_auth("admin@foo.com", "pw-foo"),
            )
        assert response.status_code == (201 if valid else 400), response.content
        if not valid:
            assert "username" in {param["name"] for param in response.json()["invalid-params"]}
        assert User.objects.for_tenant(world.foo).filter(username=username).exists() is valid


class TestANewTenantTakesNoUsername:
    """A sign-in name ``bob@example.org`` is the super tenant's user ``bob@example.org`` while no
    tenant is named example.org, and example.org's ``bob`` once one is (identity/usernames.py).
    Regression: tenant example.org could be created over such users; their sign-in names then
    named another tenant's user, or nobody."""

    def test_refused_naming_every_such_user(self, world):
        with emails_allowed(True):
            create_user(world.foo, "Carol@Example.Org", "pw-carol")
        with pytest.raises(ValidationError) as raised:
            tenant_services.create_tenant("example.org", admin_username="a", admin_password="p", actor="test")
        (message,) = raised.value.message_dict["domain"]
        assert "bob@example.org (carbon.super)" in message and "Carol@Example.Org (foo.com)" in message
        assert not Tenant.objects.filter(domain="example.org").exists()

    def test_refused_in_the_admin(self, client, world):
        client.force_login(world.users["admin@carbon.super"])
        data = {"domain": "example.org", "admin_username": "a", "password1": "Xy9-long-pw"}
        response = client.post("/admin/tenants/tenant/add/", {**data, "password2": "Xy9-long-pw"})
        assert response.status_code == 200
        assert "bob@example.org (carbon.super)" in str(response.context["adminform"].form.errors["domain"])
        assert not Tenant.objects.filter(domain="example.org").exists()

    @pytest.mark.parametrize("domain", ["org", "ample.org", "example.org.uk"])
    def test_a_domain_no_username_ends_in_is_created(self, world, domain):
        tenant_services.create_tenant(domain, admin_username="a", admin_password="p", actor="test")
        assert authenticate(None, username="bob@example.org", password="pw-bob") is not None
