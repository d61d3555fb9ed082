"""Every way of writing a cached model announces the change (the change bus, tenants.changes).

The table below is every write path Django offers on a model, applied to every model whose
rows the cache holds. Each case puts an entry in the cache tagged as the readers tag it, makes
the write, and checks the entry is gone, in this process; ``test_coherence_blackbox.py``
checks other processes. A new cached model, or a new write path, that announces nothing fails
here.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from identity.models import AccessToken, Client, RefreshToken, Role, SigningKey, User
from identity.models.tokens import token_checksum
from introspection.lookup import find_token
from introspection.responses import is_active
from tenants import changes
from tenants.announcing import MAX_ROWS_NAMED, announced_models, bulk_tags
from tenants.cache import EVERYTHING, cache
from tenants.models import Tenant
from tests.support.introspection import FOO, SUPER, make_refresh_token, make_token
from tests.support.worlds import introspection_world

pytestmark = pytest.mark.django_db

# The models whose rows the cache holds, as its readers use them (introspection, callers,
# tenant routing, signing).
CACHED_MODELS = {Tenant, User, Role, Client, AccessToken, RefreshToken, SigningKey}


@pytest.fixture(scope="module")
def world(build_once):
    def make():
        world = introspection_world()
        client = world.clients[FOO]
        world.access = make_token(client, scope="test1")
        world.refresh = make_refresh_token(client, world.users[FOO]["admin"], scope="test1")
        return world

    return build_once(make)


def one(model, world):
    """A row of ``model`` in foo.com, freshly read."""
    tenant = world.tenants[FOO]
    rows = {
        Tenant: Tenant.objects.filter(pk=tenant.pk),
        User: User.objects.for_tenant(tenant).filter(username="viewer"),
        Role: Role.objects.for_tenant(tenant).filter(users__username="viewer"),
        Client: Client.objects.for_tenant(tenant),
        AccessToken: AccessToken.objects.for_tenant(tenant).filter(
            token_checksum=token_checksum(world.access)
        ),
        RefreshToken: RefreshToken.objects.for_tenant(tenant),
        SigningKey: SigningKey.objects.for_tenant(tenant),
    }[model]
    return rows


def foo(model, world):
    """Every row of ``model`` in foo.com."""
    return model.objects.for_tenant(world.tenants[FOO])


def sentinel(row, *also) -> tuple:
    """Put an entry tagged with ``row``'s tags (and ``also``) in the cache; return its key."""
    key = ("sentinel", row._meta.label, row.pk)
    cache.put(key, "cached", [*row.change_tags(), *also])
    assert cache.get(key) == "cached"
    return key


def _save(queryset):
    row = queryset.get()
    row.save()


def _delete(queryset):
    queryset.get().delete()


def _update(queryset):
    # An update that changes nothing visible still writes (and so must announce).
    field = _some_field(queryset.model)
    queryset.update(**{field: F(field)})


def _queryset_delete(queryset):
    queryset.delete()


def _bulk_update(queryset):
    queryset.bulk_update(list(queryset), [_some_field(queryset.model)])


def _some_field(model) -> str:
    return {
        Tenant: "name",
        User: "email",
        Role: "name",
        Client: "name",
        AccessToken: "scope",
        RefreshToken: "revoked",
        SigningKey: "active",
    }[model]


WRITES = {
    "save": _save,
    "delete": _delete,
    "queryset-update": _update,
    "queryset-delete": _queryset_delete,
    "bulk_update": _bulk_update,
}


class TestEveryCachedModelAnnounces:
    def test_the_cached_models_are_announced(self):
        """Every model the cache holds is an Announced model (its writes go on the bus)."""
        assert set(announced_models()) >= CACHED_MODELS

    @pytest.mark.parametrize(
        "model", sorted(CACHED_MODELS, key=lambda m: m.__name__), ids=lambda m: m.__name__
    )
    @pytest.mark.parametrize("write", list(WRITES), ids=str)
    def test_write_drops_what_was_cached(self, db, world, model, write):
        queryset = one(model, world)
        key = sentinel(queryset.get())
        WRITES[write](queryset)
        assert cache.get(key) != "cached"

    @pytest.mark.parametrize("side", ["user.roles", "role.users"])
    @pytest.mark.parametrize("action", ["add", "remove", "clear"])
    def test_role_membership(self, db, world, side, action):
        viewer = world.users[FOO]["viewer"]
        nobody = world.users[FOO]["nobody"]
        role = viewer.roles.get()
        # The user whose permissions change.
        changed = nobody if action == "add" else viewer
        # Tagged as a verified caller is: with the user and its roles.
        key = sentinel(changed, *(("r", pk) for pk in changed.roles.values_list("pk", flat=True)))
        manager = changed.roles if side == "user.roles" else role.users
        other = role if side == "user.roles" else changed
        if action == "clear":
            manager.clear()
        else:
            getattr(manager, action)(other)
        assert cache.get(key) != "cached"

    def test_new_tenant_drops_cached_unknown_domains(self, db, world):
        assert Tenant.objects.get_by_domain("bar.com") is None
        Tenant.objects.create(domain="bar.com")
        assert Tenant.objects.get_by_domain("bar.com") is not None


class TestWhatIsAnnounced:
    """What a change names: the rows, or for many rows their owners, never one message per row."""

    def test_a_token_is_named_by_its_row(self, db, world):
        token = one(AccessToken, world).get()
        assert bulk_tags(one(AccessToken, world)) == [("at", token.pk)]

    def test_many_tokens_are_named_by_their_client(self, db, world):
        client = world.clients[FOO]
        for _ in range(MAX_ROWS_NAMED + 1):
            make_token(client)
        tokens = AccessToken.objects.for_tenant(world.tenants[FOO])
        assert bulk_tags(tokens) == [("c", client.pk)]

    def test_a_bulk_revocation_is_one_statement_to_the_bus(self, db, world):
        """Revoking every token of a client announces once (one NOTIFY on PostgreSQL)."""
        client = world.clients[FOO]
        for _ in range(MAX_ROWS_NAMED + 1):
            make_token(client)
        with CaptureQueriesContext(connection) as queries:
            AccessToken.objects.for_tenant(world.tenants[FOO]).update(revoked=timezone.now())
        notifies = [q for q in queries.captured_queries if "pg_notify" in q["sql"]]
        assert len(notifies) == (1 if connection.vendor == "postgresql" else 0)

    def test_payload_stays_small(self):
        tags = [("at", number) for number in range(10_000)] + [("t", 1), ("t", 2)]
        payload = changes.encode(tags)
        assert len(payload) <= changes.MAX_PAYLOAD
        assert changes.decode(payload) == [("t", 1), ("t", 2)]
        assert changes.decode(changes.encode([("at", n) for n in range(10_000)])) == [EVERYTHING]

    def test_unreadable_payload_drops_everything(self):
        assert changes.decode("not json") == [EVERYTHING]
        assert changes.decode('["old", "format"]') == [EVERYTHING]


class TestTokenState:
    """A token's cached state follows every change that touches it, in this process."""

    @pytest.mark.parametrize(
        ("token", "change"),
        [
            (
                "access",
                lambda w: AccessToken.objects.for_tenant(w.tenants[FOO]).update(revoked=timezone.now()),
            ),
            (
                "access",
                lambda w: AccessToken.objects.for_tenant(w.tenants[FOO]).filter(scope="test1").delete(),
            ),
            (
                "refresh",
                lambda w: RefreshToken.objects.for_tenant(w.tenants[FOO]).update(revoked=timezone.now()),
            ),
            ("refresh", lambda w: User.objects.for_tenant(w.tenants[FOO]).update(is_locked=True)),
            ("access", lambda w: Client.objects.for_tenant(w.tenants[FOO]).delete()),
            ("refresh", lambda w: Tenant.objects.filter(domain=FOO).update(active=False)),
        ],
        ids=["revoked-in-bulk", "deleted", "refresh-revoked", "users-locked", "client-deleted", "tenant-off"],
    )
    def test_change_is_seen_at_once(self, db, world, token, change):
        raw = world.access if token == "access" else world.refresh
        assert is_active(find_token(raw))
        change(world)
        found = find_token(raw)
        assert found is None or not is_active(found)

    def test_expired_token_leaves_the_cache(self, db, world):
        raw = make_token(world.clients[SUPER], expires_in=3600)
        find_token(raw)
        assert len(cache)
        AccessToken.objects.all_tenants().filter(token_checksum=token_checksum(raw)).update(
            expires=timezone.now() - timedelta(seconds=1)
        )
        assert not find_token(raw).is_active()

    def test_issuance_announces_nothing(self, db, world):
        """New tokens were never cached (unknown tokens are not kept): issuing one is silent."""
        generation = cache.generation
        make_token(world.clients[FOO])
        assert cache.generation == generation
