"""Throttling of failed authentications (identity/throttle.py): 429 + Retry-After past the limits,
decided before any password hash, at every endpoint that checks a credential."""

from __future__ import annotations

import dataclasses
import os
import threading
import uuid
from datetime import timedelta

import pytest
from django import test as django_test
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from prometheus_client import REGISTRY

from deployment import ThrottleConfig
from identity import metrics, throttle
from identity.bootstrap import DEMO_CLIENT
from identity.models import ThrottleCounter
from tenants.cache import cache
from tests.support.auth import basic
from tests.support.introspection import ENDPOINT, EVERY_HANDLER, SUPER, configured, make_token
from tests.support.worlds import introspection_world

pytestmark = pytest.mark.django_db

ATTACKER, OTHER = "10.9.8.7", "10.1.1.1"
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/9")


@pytest.fixture(scope="module")
def world(build_once):
    def make():
        world = introspection_world()
        world.token = make_token(world.clients[SUPER], scope="test1")
        world.bearer = make_token(world.clients[SUPER], scope="internal_oauth2_introspect")
        return world

    return build_once(make)


@pytest.fixture(params=["database", "redis"])
def limits(request, deployment_override, monkeypatch):
    """Return ``apply(**throttle keys)``: small limits, counters in the database or in Redis.

    Redis is shared by every test process on the machine (pytest-xdist workers, other checkouts):
    each test counts under keys of its own.
    """
    redis_url = ""
    if request.param == "redis":
        redis_url = REDIS_URL.rsplit("/", 1)[0] + "/9"
        monkeypatch.setattr(throttle, "REDIS_PREFIX", f"{throttle.REDIS_PREFIX}{uuid.uuid4().hex}:")
        client = throttle._redis_client(redis_url)
        request.addfinalizer(lambda: _flush(client))

    def apply(**keys):
        keys.setdefault("per_identity", 2)
        keys.setdefault("per_address", 50)
        given = configured(EVERY_HANDLER)
        return deployment_override(
            throttle=ThrottleConfig(redis_url=redis_url, **keys), resource=given.resource
        )

    return apply


def _flush(client) -> None:
    keys = list(client.scan_iter(throttle.REDIS_PREFIX + "*"))
    if keys:
        client.delete(*keys)


# --- the endpoints that check a credential, each with a failing and a correct request --------


def introspect(authorization):
    def send(client, world, address, good):
        value = authorization(world) if good else authorization(None)
        return client.post(
            ENDPOINT[SUPER], {"token": world.token}, HTTP_AUTHORIZATION=value, REMOTE_ADDR=address
        )

    return send


def token_client(client, world, address, good):
    secret = DEMO_CLIENT.client_secret if good else "wrong"
    return client.post(
        "/oauth2/token",
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic(DEMO_CLIENT.client_id, secret),
        REMOTE_ADDR=address,
    )


def token_password(client, world, address, good):
    return client.post(
        "/oauth2/token",
        {"grant_type": "password", "username": "admin", "password": "admin" if good else "wrong"},
        HTTP_AUTHORIZATION=basic(DEMO_CLIENT.client_id, DEMO_CLIENT.client_secret),
        REMOTE_ADDR=address,
    )


def revoke(client, world, address, good):
    secret = DEMO_CLIENT.client_secret if good else "wrong"
    return client.post(
        "/oauth2/revoke",
        {"token": "unknown"},
        HTTP_AUTHORIZATION=basic(DEMO_CLIENT.client_id, secret),
        REMOTE_ADDR=address,
    )


def admin_login(client, world, address, good):
    fields = {"username": "admin", "password": "admin" if good else "wrong", "next": "/admin/"}
    return django_test.Client().post("/admin/login/", fields, REMOTE_ADDR=address)


ENDPOINTS = {
    "introspect-basic-user": introspect(lambda w: basic("admin", "admin" if w else "wrong")),
    "introspect-basic-client": introspect(
        lambda w: basic(DEMO_CLIENT.client_id, DEMO_CLIENT.client_secret if w else "wrong")
    ),
    "introspect-bearer": introspect(lambda w: f"Bearer {w.bearer if w else 'not-a-token'}"),
    "token-client": token_client,
    "token-password-grant": token_password,
    "revoke-client": revoke,
    "admin-login": admin_login,
}
GOOD_STATUS = {"admin-login": 302}
BAD_STATUS = {"token-password-grant": 400, "admin-login": 200}
# A Bearer token is its own identity: a right one is another identity than a wrong one.
TOKEN_IS_IDENTITY = {"introspect-bearer"}


def assert_throttled(response) -> None:
    assert response.status_code == 429, response.content
    assert response.json()["error"] == "too_many_requests"
    assert response["Content-Type"] == "application/json"
    assert 1 <= int(response["Retry-After"]) <= 300


def throttled_count() -> float:
    metrics.tally.flush()  # as a scrape does
    return REGISTRY.get_sample_value("identity_throttled_requests_total", {"limit": "per_identity"}) or 0


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
class TestEveryEndpoint:
    def test_past_per_identity_failures_the_answer_is_429(self, client, world, limits, endpoint):
        limits()
        send = ENDPOINTS[endpoint]
        for _ in range(2):
            response = send(client, world, ATTACKER, good=False)
            assert response.status_code == BAD_STATUS.get(endpoint, 401), response.content
        counted = throttled_count()
        assert_throttled(send(client, world, ATTACKER, good=False))
        assert throttled_count() == counted + 1
        if endpoint not in TOKEN_IS_IDENTITY:
            # The right credential from that address too: refused there until the window ends.
            assert_throttled(send(client, world, ATTACKER, good=True))

    def test_another_address_is_not_refused(self, client, world, limits, endpoint):
        limits()
        send = ENDPOINTS[endpoint]
        for _ in range(3):
            send(client, world, ATTACKER, good=False)
        assert send(client, world, OTHER, good=True).status_code == GOOD_STATUS.get(endpoint, 200)

    def test_lock_identity_refuses_it_from_every_address(self, client, world, limits, endpoint):
        limits(lock_identity=True)
        send = ENDPOINTS[endpoint]
        for _ in range(2):
            send(client, world, ATTACKER, good=False)
        assert_throttled(send(client, world, OTHER, good=endpoint not in TOKEN_IS_IDENTITY))

    def test_disabled_never_refuses(self, client, world, limits, endpoint):
        limits(enabled=False)
        send = ENDPOINTS[endpoint]
        for _ in range(4):
            response = send(client, world, ATTACKER, good=False)
        assert response.status_code == BAD_STATUS.get(endpoint, 401)


class TestCounting:
    def test_per_address_limit_spans_identities(self, client, world, limits):
        limits(per_identity=100, per_address=3)
        for name in ("alice", "bob", "carol"):
            response = client.post(
                ENDPOINT[SUPER],
                {"token": world.token},
                HTTP_AUTHORIZATION=basic(name, "x"),
                REMOTE_ADDR=ATTACKER,
            )
            assert response.status_code == 401
        response = client.post(
            ENDPOINT[SUPER],
            {"token": world.token},
            HTTP_AUTHORIZATION=basic("admin", "admin"),
            REMOTE_ADDR=ATTACKER,
        )
        assert_throttled(response)

    def test_a_success_resets_the_identity_not_the_address(self, client, world, limits):
        limits(per_identity=2, per_address=3)
        send = ENDPOINTS["introspect-basic-user"]
        send(client, world, ATTACKER, good=False)
        assert send(client, world, ATTACKER, good=True).status_code == 200
        cache.clear()  # the next correct request checks the password again
        send(client, world, ATTACKER, good=False)
        # Two failures in all for the identity, but the success forgot the first: not refused yet.
        assert send(client, world, ATTACKER, good=True).status_code == 200
        cache.clear()
        send(client, world, ATTACKER, good=False)  # the address's third failure
        assert_throttled(send(client, world, ATTACKER, good=True))

    @pytest.mark.parametrize("limits", ["database"], indirect=True)
    def test_a_throttled_attempt_costs_no_hash_and_no_user_lookup(self, client, world, limits):
        """Regression: a flood of bad Basic credentials cost ~200 ms of PBKDF2 each (issue 11)."""
        limits()
        send = ENDPOINTS["introspect-basic-user"]
        for _ in range(2):
            send(client, world, ATTACKER, good=False)
        with CaptureQueriesContext(connection) as queries:
            assert_throttled(send(client, world, ATTACKER, good=False))
        tables = " ".join(query["sql"] for query in queries.captured_queries)
        assert "identity_throttlecounter" in tables
        assert "identity_user" not in tables

    def test_a_blocked_address_is_refused_from_memory_until_its_window_ends(self, client, world, limits):
        """A flood from an address over its limit costs no counter read (the database or Redis)."""
        limits(per_identity=100, per_address=2)
        send = ENDPOINTS["introspect-basic-user"]
        for _ in range(2):
            send(client, world, ATTACKER, good=False)
        assert_throttled(send(client, world, ATTACKER, good=False))  # read: over the limit
        with CaptureQueriesContext(connection) as queries:
            response = send(client, world, ATTACKER, good=False)
        assert_throttled(response)
        assert 1 <= int(response["Retry-After"]) <= ThrottleConfig().window
        assert not [q for q in queries.captured_queries if "throttlecounter" in q["sql"]]
        assert send(client, world, OTHER, good=True).status_code == 200

    def test_a_cached_caller_reads_no_counter(self, client, world, limits):
        limits()
        send = ENDPOINTS["introspect-basic-user"]
        send(client, world, ATTACKER, good=False)
        assert send(client, world, ATTACKER, good=True).status_code == 200
        with CaptureQueriesContext(connection) as queries:
            assert send(client, world, ATTACKER, good=True).status_code == 200
        assert not [q for q in queries.captured_queries if "throttlecounter" in q["sql"]]

    def test_a_request_without_credentials_is_not_counted(self, client, world, limits):
        limits(per_address=1)
        for _ in range(3):
            response = client.post(ENDPOINT[SUPER], {"token": world.token}, REMOTE_ADDR=ATTACKER)
            assert response.status_code == 401


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "expected"),
    [
        ("10.0.0.1", "", (), "10.0.0.1"),
        ("10.0.0.1", "203.0.113.9", (), "10.0.0.1"),  # an untrusted peer's header is ignored
        ("10.0.0.1", "203.0.113.9", ("10.0.0.1",), "203.0.113.9"),
        ("10.0.0.1", "198.51.100.1, 203.0.113.9", ("10.0.0.1",), "203.0.113.9"),  # rightmost untrusted
        ("10.0.0.1", "203.0.113.9, 10.0.0.2", ("10.0.0.1", "10.0.0.2"), "203.0.113.9"),
        ("10.0.0.1", "not-an-address", ("10.0.0.1",), "10.0.0.1"),
    ],
)
def test_client_address(rf, deployment_override, peer, forwarded, trusted, expected):
    deployment_override(server=dataclasses.replace(settings.DEPLOYMENT.server, trusted_proxies=trusted))
    headers = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {}
    assert throttle.client_address(rf.get("/", REMOTE_ADDR=peer, **headers).META) == expected


class TestDatabaseCounters:
    def test_an_expired_window_starts_again_at_one(self):
        key = uuid.uuid4().hex
        ThrottleCounter.objects.create(key=key, count=50, expires=timezone.now() - timedelta(seconds=1))
        throttle.DatabaseCounters().increment([key], window=60)
        row = ThrottleCounter.objects.get(key=key)
        assert row.count == 1
        assert row.expires > timezone.now() + timedelta(seconds=50)

    def test_read_ignores_expired_rows(self):
        key = uuid.uuid4().hex
        ThrottleCounter.objects.create(key=key, count=50, expires=timezone.now() - timedelta(seconds=1))
        assert throttle.DatabaseCounters().read([key]) == {}

    @pytest.mark.django_db(transaction=True)
    @pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL")
    def test_concurrent_failures_are_all_counted(self):
        key = uuid.uuid4().hex
        barrier = threading.Barrier(8)

        def fail():
            barrier.wait()
            for _ in range(5):
                throttle.DatabaseCounters().increment([key], window=60)
            connection.close()

        threads = [threading.Thread(target=fail) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert ThrottleCounter.objects.get(key=key).count == 40
        ThrottleCounter.objects.filter(key=key).delete()


def api(client, world, address, good, scheme):
    """The management API, with a Basic user or a Bearer token."""
    if scheme == "basic":
        auth = basic("admin", "admin" if good else "wrong")
    else:
        auth = f"Bearer {world.bearer if good else 'not-a-token'}"
    return client.get("/api/v1/clients", HTTP_AUTHORIZATION=auth, REMOTE_ADDR=address, secure=True)


@pytest.mark.parametrize("scheme", ["basic", "bearer"])
class TestManagementApi:
    """Failed authentications at the management API count like everywhere else; the 429 is an
    RFC 9457 problem with Retry-After."""

    def test_past_the_limit_the_answer_is_429(self, client, world, limits, scheme):
        limits()
        for _ in range(2):
            assert api(client, world, ATTACKER, False, scheme).status_code == 401
        response = api(client, world, ATTACKER, False, scheme)
        assert response.status_code == 429
        assert response["Content-Type"] == "application/problem+json"
        assert response.json()["status"] == 429
        assert 1 <= int(response["Retry-After"]) <= 300

    def test_another_address_is_not_refused(self, client, world, limits, scheme):
        limits()
        for _ in range(3):
            api(client, world, ATTACKER, False, scheme)
        assert api(client, world, OTHER, True, scheme).status_code != 429
