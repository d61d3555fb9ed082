"""Tenant-scoped managers: a query on tenant data with no tenant fails, never widens
(docs/architecture.md)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db.models import Count

from identity.models import Role, User
from tenants.managers import TenantScopedManagerMixin, TenantScopeError, use_tenant
from tenants.models import Tenant

pytestmark = pytest.mark.django_db

# The field each model's `update` case changes.
FIELD = {User: "email", Role: "name"}


@pytest.fixture(scope="module")
def world(build_once):
    def make():
        foo = Tenant.objects.create(domain="foo.com")
        bar = Tenant.objects.create(domain="bar.com")
        users = {
            (tenant.domain, name): User.objects.create_user(tenant, name, "pw")
            for tenant, name in [(foo, "admin"), (foo, "alice"), (bar, "admin")]
        }
        roles = {
            tenant.domain: Role.objects.create(tenant=tenant, name="admin", permissions=["/permission/admin"])
            for tenant in (foo, bar)
        }
        users["foo.com", "admin"].roles.add(roles["foo.com"])
        users["bar.com", "admin"].roles.add(roles["bar.com"])
        return SimpleNamespace(foo=foo, bar=bar, users=users, roles=roles, alice=users["foo.com", "alice"])

    return build_once(make)


# Every way a queryset reaches the database: (name, call on an unscoped queryset).
UNSCOPED = [
    ("iteration", lambda qs, model, world: list(qs)),
    ("len", lambda qs, model, world: len(qs)),
    ("bool", lambda qs, model, world: bool(qs)),
    ("slice", lambda qs, model, world: list(qs[:1])),
    ("get", lambda qs, model, world: qs.get(pk=world.users["foo.com", "admin"].pk)),
    ("first", lambda qs, model, world: qs.first()),
    ("last", lambda qs, model, world: qs.last()),
    ("latest", lambda qs, model, world: qs.latest("pk")),
    ("count", lambda qs, model, world: qs.count()),
    ("exists", lambda qs, model, world: qs.exists()),
    (
        "contains",
        lambda qs, model, world: qs.contains(world.roles["foo.com"] if model is Role else world.alice),
    ),
    ("update", lambda qs, model, world: qs.update(**{FIELD[model]: "changed"})),
    ("delete", lambda qs, model, world: qs.delete()),
    ("aggregate", lambda qs, model, world: qs.aggregate(n=Count("pk"))),
    ("iterator", lambda qs, model, world: list(qs.iterator())),
    ("values", lambda qs, model, world: list(qs.values("pk"))),
    ("values_list", lambda qs, model, world: list(qs.values_list("pk", flat=True))),
    ("in_bulk", lambda qs, model, world: qs.in_bulk()),
    ("get_or_create", lambda qs, model, world: qs.get_or_create(pk=1)),
    ("filter on another field", lambda qs, model, world: list(qs.filter(pk__gt=0))),
    ("exclude a tenant", lambda qs, model, world: list(qs.exclude(tenant=world.foo))),
    ("tenant=None", lambda qs, model, world: list(qs.filter(tenant=None))),
    ("ordered", lambda qs, model, world: list(qs.order_by("-pk"))),
    # A scoped queryset combined with an unscoped one would read every tenant's rows.
    ("or", lambda qs, model, world: list(model.objects.for_tenant(world.foo) | qs)),
    ("or, reversed", lambda qs, model, world: list(qs | model.objects.for_tenant(world.foo))),
    ("xor", lambda qs, model, world: list(model.objects.for_tenant(world.foo) ^ qs)),
    ("union", lambda qs, model, world: list(model.objects.for_tenant(world.foo).union(qs))),
    ("union count", lambda qs, model, world: model.objects.for_tenant(world.foo).union(qs).count()),
]


class TestUnscopedQueriesFail:
    @pytest.mark.parametrize("model", [User, Role])
    @pytest.mark.parametrize(("operation", "call"), UNSCOPED, ids=[name for name, _ in UNSCOPED])
    def test_raises_before_any_query(self, world, django_assert_num_queries, model, operation, call):
        with django_assert_num_queries(0), pytest.raises(TenantScopeError, match=model.__name__):
            call(model.objects.all(), model, world)

    @pytest.mark.parametrize("model", [User, Role])
    def test_nothing_changed(self, world, model):
        for call in (lambda qs: qs.update(**{FIELD[model]: "changed"}), lambda qs: qs.delete()):
            with pytest.raises(TenantScopeError):
                call(model.objects.all())
        assert model.objects.all_tenants().filter(**{FIELD[model]: "changed"}).count() == 0
        assert model.objects.all_tenants().count() == {User: 3, Role: 2}[model]

    @pytest.mark.parametrize("model", [User, Role])
    def test_for_tenant_none_raises(self, world, model):
        with pytest.raises(TenantScopeError, match="needs a tenant"):
            model.objects.for_tenant(None)

    def test_message_says_what_to_do(self, world):
        with pytest.raises(TenantScopeError, match=r"User\.objects\.for_tenant\(tenant\)"):
            list(User.objects.filter(username="admin"))


class TestScopedQueries:
    @pytest.mark.parametrize(
        ("scope", "expected"),
        [
            (lambda w: User.objects.for_tenant(w.foo), {"admin@foo.com", "alice@foo.com"}),
            (lambda w: User.objects.for_tenant(w.bar), {"admin@bar.com"}),
            (lambda w: User.objects.filter(tenant=w.foo), {"admin@foo.com", "alice@foo.com"}),
            (lambda w: User.objects.filter(tenant_id=w.bar.pk), {"admin@bar.com"}),
            (lambda w: User.objects.filter(tenant__domain="bar.com"), {"admin@bar.com"}),
            (lambda w: User.objects.filter(username="admin", tenant=w.foo), {"admin@foo.com"}),
            (lambda w: User.objects.for_tenant(w.foo).filter(username="alice"), {"alice@foo.com"}),
            (lambda w: User.objects.for_tenant(w.foo).exclude(username="alice"), {"admin@foo.com"}),
            (lambda w: User.objects.all_tenants(), {"admin@foo.com", "alice@foo.com", "admin@bar.com"}),
            (
                lambda w: User.objects.all_tenants().filter(username="admin"),
                {"admin@foo.com", "admin@bar.com"},
            ),
            (
                lambda w: User.objects.for_tenant(w.foo) | User.objects.for_tenant(w.bar),
                {"admin@foo.com", "alice@foo.com", "admin@bar.com"},
            ),
            (
                lambda w: User.objects.for_tenant(w.foo) & User.objects.all(),
                {"admin@foo.com", "alice@foo.com"},
            ),
            (lambda w: w.foo.users.all(), {"admin@foo.com", "alice@foo.com"}),
            (lambda w: w.bar.users.filter(username="admin"), {"admin@bar.com"}),
            (lambda w: w.roles["foo.com"].users.all(), {"admin@foo.com"}),
        ],
    )
    def test_rows_of_the_tenant_only(self, world, scope, expected):
        queryset = scope(world)
        assert {str(user) for user in queryset} == expected
        assert queryset.count() == len(expected)
        assert queryset.exists()

    def test_every_operation_works_once_scoped(self, world):
        users = User.objects.for_tenant(world.foo)
        assert users.get(username="alice") == world.users["foo.com", "alice"]
        assert users.order_by("username").first().username == "admin"
        assert users.aggregate(n=Count("pk")) == {"n": 2}
        assert len(list(users.iterator())) == 2
        assert users.filter(username="alice").update(email="a@foo.com") == 1
        assert users.filter(username="alice").delete()[0] >= 1
        assert User.objects.all_tenants().count() == 2
        with pytest.raises(User.DoesNotExist):
            users.get(username="admin", tenant=world.bar)

    def test_related_managers(self, world):
        foo_admin = world.users["foo.com", "admin"]
        assert list(foo_admin.roles.all()) == [world.roles["foo.com"]]
        assert list(world.foo.roles.all()) == [world.roles["foo.com"]]
        assert foo_admin.roles.count() == 1
        assert world.foo.users.count() == 2
        assert (
            User.objects.for_tenant(world.foo).prefetch_related("roles").get(username="admin").roles.all()[0]
            == (world.roles["foo.com"])
        )


class TestUseTenant:
    """``use_tenant(t)`` scopes the queries of code we do not own (the OAuth library)."""

    def test_scopes_the_default_manager(self, world):
        with use_tenant(world.bar):
            assert [str(u) for u in User.objects.all()] == ["admin@bar.com"]
            assert User.objects.filter(username="alice").count() == 0
        with pytest.raises(TenantScopeError):
            list(User.objects.all())

    def test_nested_blocks_restore_the_outer_tenant(self, world):
        with use_tenant(world.foo):
            with use_tenant(world.bar):
                assert User.objects.count() == 1
            assert User.objects.count() == 2

    def test_needs_a_tenant(self):
        with pytest.raises(TenantScopeError), use_tenant(None):
            pass


def tenant_owned_models():
    return [
        model
        for model in apps.get_models()
        if any(field.name == "tenant" and field.many_to_one for field in model._meta.get_fields())
    ]


class TestEveryTenantOwnedModel:
    """Every model with a ``tenant`` has a manager that refuses unscoped queries."""

    def test_users_and_roles_are_tenant_owned(self):
        assert {User, Role} <= set(tenant_owned_models())

    @pytest.mark.parametrize("model", tenant_owned_models(), ids=lambda model: model._meta.label)
    def test_default_manager_is_scoped(self, world, model):
        assert isinstance(model._default_manager, TenantScopedManagerMixin)
        with pytest.raises(TenantScopeError):
            model._default_manager.count()
        assert model._default_manager.for_tenant(world.foo).count() >= 0
