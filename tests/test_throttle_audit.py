"""Every refusal of the throttle is one ``auth.throttled`` audit line, whatever the endpoint:
which limits, which identities (a Bearer token by its kind alone), from where (docs/operations.md)."""

from __future__ import annotations

import pytest
from django import test as django_test

from deployment import ThrottleConfig
from identity.bootstrap import DEMO_CLIENT
from tests.support.auth import basic
from tests.support.introspection import ENDPOINT, SUPER
from tests.support.worlds import introspection_world

pytestmark = pytest.mark.django_db

ATTACKER = "10.9.8.7"
BEARER = "not-a-token-but-never-in-the-audit"


@pytest.fixture(scope="module")
def world(build_once):
    return build_once(introspection_world)


def admin_login(client):
    fields = {"username": "admin@foo.com", "password": "wrong", "next": "/admin/"}
    return django_test.Client().post("/admin/login/", fields, REMOTE_ADDR=ATTACKER)


def password_grant(client):
    return client.post(
        "/t/foo.com/oauth2/token",
        {"grant_type": "password", "username": "admin", "password": "wrong"},
        HTTP_AUTHORIZATION=basic(DEMO_CLIENT.client_id, DEMO_CLIENT.client_secret),
        REMOTE_ADDR=ATTACKER,
    )


def bearer_caller(client):
    return client.post(
        ENDPOINT[SUPER], {"token": "x"}, HTTP_AUTHORIZATION=f"Bearer {BEARER}", REMOTE_ADDR=ATTACKER
    )


CASES = {
    "admin login": (
        admin_login,
        "/admin/login/",
        [{"kind": "user", "tenant": "foo.com", "identity": "admin"}],
    ),
    "password grant": (
        password_grant,
        "/t/foo.com/oauth2/token",
        [
            {"kind": "client", "tenant": "foo.com", "identity": DEMO_CLIENT.client_id},
            {"kind": "user", "tenant": "foo.com", "identity": "admin"},
        ],
    ),
    "introspection bearer": (bearer_caller, ENDPOINT[SUPER], [{"kind": "bearer"}]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_refusal_is_audited(client, world, deployment_override, caplog, case):
    send, path, identities = CASES[case]
    deployment_override(throttle=ThrottleConfig(per_identity=2, per_address=50))
    for _ in range(2):
        assert send(client).status_code != 429
    assert not [
        record for record in caplog.records if getattr(record, "audit", {}).get("event") == "auth.throttled"
    ]
    assert send(client).status_code == 429
    (event,) = [
        record.audit
        for record in caplog.records
        if getattr(record, "audit", {}).get("event") == "auth.throttled"
    ]
    assert event == {
        "event": "auth.throttled",
        "limits": ["per_identity"],
        "identities": identities,
        "address": ATTACKER,
        "path": path,
        "retry_after": event["retry_after"],
    }
    assert BEARER not in caplog.text
