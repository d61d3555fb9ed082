"""Throttling of the tenant sign-in page of the code flow (``/t/<tenant>/login/``): failed
sign-ins count like every credential check, and past the limits the page answers an HTML 429
with ``Retry-After`` before any password is hashed (docs/security.md#throttling)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from prometheus_client import REGISTRY

from deployment import ThrottleConfig
from identity import metrics
from tests.support.oauth import ALICE
from tests.support.worlds import oauth_world

pytestmark = pytest.mark.django_db

LOGIN = "/t/foo.com/login/"
ATTACKER, OTHER = "10.9.8.7", "10.1.1.1"


@pytest.fixture(scope="module")
def world(build_once):
    return build_once(oauth_world)


@pytest.fixture
def limits(deployment_override):
    """Return ``apply(**throttle keys)``: two failures of an identity per address by default."""

    def apply(**keys):
        keys.setdefault("per_identity", 2)
        keys.setdefault("per_address", 50)
        return deployment_override(throttle=ThrottleConfig(**keys))

    return apply


def sign_in(client, password: str, address: str = ATTACKER, username: str = ALICE[0]):
    return client.post(LOGIN, {"username": username, "password": password}, secure=True, REMOTE_ADDR=address)


def throttled_count(limit: str = "per_identity") -> float:
    metrics.tally.flush()  # as a scrape does
    return REGISTRY.get_sample_value("identity_throttled_requests_total", {"limit": limit}) or 0


def assert_throttled_page(response) -> None:
    assert response.status_code == 429, response.content
    assert response["Content-Type"].startswith("text/html")
    assert "no-store" in response["Cache-Control"]
    assert 1 <= int(response["Retry-After"]) <= 300
    page = response.content.decode()
    assert "Too many failed sign-ins" in page
    assert 'name="username"' in page  # the form again, to try later


class TestThrottled:
    def test_past_the_failures_of_an_identity_the_page_is_429(self, client, world, limits):
        limits()
        for _ in range(2):
            assert sign_in(client, "wrong").status_code == 200  # the form again, with its error
        counted = throttled_count()
        assert_throttled_page(sign_in(client, "wrong"))
        assert throttled_count() == counted + 1
        # The right password from that address too, until the window ends.
        assert_throttled_page(sign_in(client, ALICE[1]))

    def test_another_address_still_signs_in(self, client, world, limits):
        limits()
        for _ in range(3):
            sign_in(client, "wrong")
        assert sign_in(client, ALICE[1], address=OTHER).status_code == 302

    def test_per_address_limit_spans_usernames(self, client, world, limits):
        limits(per_identity=100, per_address=3)
        for name in ("alice", "bob", "carol"):
            assert sign_in(client, "wrong", username=name).status_code == 200
        assert_throttled_page(sign_in(client, ALICE[1]))
        assert throttled_count("per_address") >= 1

    def test_lock_identity_refuses_it_from_every_address(self, client, world, limits):
        limits(lock_identity=True)
        for _ in range(2):
            sign_in(client, "wrong")
        assert_throttled_page(sign_in(client, ALICE[1], address=OTHER))

    def test_the_tenant_is_part_of_the_identity(self, client, world, limits):
        """``alice`` on foo.com's page is foo.com's alice, the same as ``alice@foo.com``."""
        limits()
        sign_in(client, "wrong", username="alice")
        sign_in(client, "wrong", username="alice@foo.com")
        assert_throttled_page(sign_in(client, ALICE[1]))

    def test_a_throttled_attempt_costs_no_hash_and_no_user_lookup(self, client, world, limits):
        limits()
        for _ in range(2):
            sign_in(client, "wrong")
        with CaptureQueriesContext(connection) as queries:
            assert_throttled_page(sign_in(client, "wrong"))
        tables = " ".join(query["sql"] for query in queries.captured_queries)
        assert "identity_throttlecounter" in tables
        assert "identity_user" not in tables

    def test_disabled_never_refuses(self, client, world, limits):
        limits(enabled=False)
        for _ in range(4):
            response = sign_in(client, "wrong")
        assert response.status_code == 200


class TestCounting:
    def test_a_success_forgets_the_identitys_failures(self, client, world, limits):
        limits(per_identity=2)
        sign_in(client, "wrong")
        assert sign_in(client, ALICE[1]).status_code == 302
        sign_in(client, "wrong")
        # Two failures in all, but the success forgot the first: not refused.
        assert sign_in(client, ALICE[1]).status_code == 302

    def test_a_form_without_a_password_is_not_counted(self, client, world, limits):
        limits(per_address=1)
        for _ in range(3):
            response = client.post(LOGIN, {"username": "alice"}, secure=True, REMOTE_ADDR=ATTACKER)
            assert response.status_code == 200
        assert sign_in(client, ALICE[1]).status_code == 302

    def test_a_user_who_may_not_sign_in_counts_as_a_failure(self, client, world, limits):
        limits()
        for _ in range(2):
            assert sign_in(client, "locked-pw", username="locked").status_code == 200
        assert_throttled_page(sign_in(client, "locked-pw", username="locked"))

    def test_a_user_of_another_tenant_counts_as_a_failure(self, client, world, limits):
        """foo.com's page refuses ``admin@carbon.super`` even with its right password."""
        limits()
        for _ in range(2):
            assert sign_in(client, "admin", username="admin@carbon.super").status_code == 200
        assert_throttled_page(sign_in(client, "admin", username="admin@carbon.super"))


class TestAudit:
    def test_failures_and_the_refusal_are_audited(self, client, world, limits, caplog):
        limits()
        for _ in range(2):
            sign_in(client, "bad-secret")
        sign_in(client, "bad-secret")
        events = [record.audit for record in caplog.records if hasattr(record, "audit")]
        failed = [event for event in events if event["event"] == "auth.failed"]
        assert [(e["kind"], e["identity"], e["tenant"]) for e in failed] == [("user", "alice", "foo.com")] * 2
        (refused,) = [event for event in events if event["event"] == "auth.throttled"]
        assert refused == {
            "event": "auth.throttled",
            "limits": ["per_identity"],
            "identities": [{"kind": "user", "tenant": "foo.com", "identity": "alice"}],
            "address": ATTACKER,
            "path": LOGIN,
            "retry_after": refused["retry_after"],
        }
        assert 1 <= refused["retry_after"] <= 300
        assert "bad-secret" not in caplog.text
