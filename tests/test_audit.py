"""The audit trail: one JSON line per event, each with its request id and no secret (docs/operations.md)."""

from __future__ import annotations

import dataclasses
import json
import logging
import stat

import pytest
from django.conf import settings

from identity import audit
from identity.logs import AuditFileHandler, AuditFormatter
from identity.models import User
from tests.support.auth import basic_auth
from tests.support.oauth import (
    ALICE,
    DEMO,
    TOKEN_PATHS,
    issue,
    password_grant,
    revoke,
    stored,
    token_request,
)
from tests.support.worlds import oauth_world

pytestmark = pytest.mark.django_db

INTROSPECT = "/t/foo.com/oauth2/introspect"
ALICE_FQN = ("alice@foo.com", ALICE[1])


@pytest.fixture(scope="module")
def world(build_once):
    return build_once(oauth_world)


class AuditCapture(logging.Handler):
    """Keep the formatted audit lines, as the audit file would hold them."""

    def __init__(self):
        super().__init__()
        self.setFormatter(AuditFormatter())
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(self.format(record))

    def events(self, name: str) -> list[dict]:
        return [event for event in map(json.loads, self.lines) if event["event"] == name]

    def assert_free_of(self, *secrets: str) -> None:
        assert self.lines, "no audit line: the check would prove nothing"
        for line in self.lines:
            for secret in secrets:
                assert secret not in line


@pytest.fixture
def audit_lines():
    handler = AuditCapture()
    logger = logging.getLogger("audit")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


def introspect(client, token: str, credentials: tuple[str, str], request_id: str = "audit-test-1"):
    return client.post(
        INTROSPECT,
        {"token": token},
        secure=True,
        headers={**basic_auth(*credentials), "X-Request-ID": request_id},
    )


class TestIntrospectionDecision:
    """Every decision of the introspection endpoint is one event naming the gate that decided."""

    def test_active(self, client, world, audit_lines):
        token = issue(client, "foo.com", {"grant_type": "client_credentials", "scope": "test1"})[
            "access_token"
        ]
        response = introspect(client, token, ("admin@foo.com", "admin"), request_id="req-active")
        assert json.loads(response.content)["active"] is True
        (event,) = audit_lines.events("introspection.decision")
        assert event == {
            "time": event["time"],
            "request_id": "req-active",
            "event": "introspection.decision",
            "caller_kind": "user",
            "caller": "admin@foo.com",
            "caller_tenant": "foo.com",
            "path_tenant": "foo.com",
            "token_tenant": "foo.com",
            "token_id": str(stored(token).jti),
            "gate": "passed",
            "outcome": "active",
        }
        audit_lines.assert_free_of(token, "admin:admin")

    @pytest.mark.parametrize(
        ("case", "gate", "outcome"),
        [
            ("unknown token", "lookup", "inactive"),
            ("token of another tenant", "token_vs_path", "inactive"),
            ("wrong password", "authentication", "401"),
            ("no permission", "permission_or_scope", "403"),
            ("no token", "input", "400"),
        ],
    )
    def test_refused_or_inactive(self, client, world, audit_lines, case, gate, outcome):
        super_token = issue(client, "carbon.super", {"grant_type": "client_credentials"})["access_token"]
        token = {"unknown token": "no-such-token-value", "no token": ""}.get(case, super_token)
        credentials = {"wrong password": ("admin@foo.com", "wrong-pw"), "no permission": ALICE_FQN}.get(
            case, ("admin@foo.com", "admin")
        )
        response = introspect(client, token, credentials)
        assert response.status_code == (200 if outcome == "inactive" else int(outcome))
        (event,) = audit_lines.events("introspection.decision")
        assert (event["gate"], event["outcome"]) == (gate, outcome)
        assert event["path_tenant"] == "foo.com"
        if case == "token of another tenant":
            assert event["token_tenant"] == "carbon.super"
            assert event["token_id"] == str(stored(super_token).jti)
        audit_lines.assert_free_of(super_token, "wrong-pw", ALICE[1])

    def test_off_when_observability_is_off(self, client, world, audit_lines, deployment_override):
        deployment_override(
            observability=dataclasses.replace(settings.DEPLOYMENT.observability, enabled=False)
        )
        introspect(client, "no-such-token-value", ("admin@foo.com", "admin"))
        audit.record("anything.happened", actor="command")
        assert audit_lines.lines == []


class TestTokenEvents:
    def test_issued(self, client, world, audit_lines):
        body = password_grant(client, scope="test1")
        (event,) = audit_lines.events("token.issued")
        row = stored(body["access_token"])
        assert event["actor"] == f"client:{DEMO[0]}"
        assert event["tenant"] == "foo.com"
        assert event["grant"] == "password"
        assert event["client"] == DEMO[0]
        assert event["user"] == "alice@foo.com"
        assert event["scopes"] == ["test1"]
        assert event["token_id"] == str(row.jti)
        audit_lines.assert_free_of(body["access_token"], body["refresh_token"], DEMO[1], ALICE[1])

    def test_revoked(self, client, world, audit_lines):
        token = issue(client, "foo.com", {"grant_type": "client_credentials"})["access_token"]
        jti = str(stored(token).jti)
        assert revoke(client, token, token_type_hint="access_token").status_code == 200
        (event,) = audit_lines.events("token.revoked")
        assert event["actor"] == f"client:{DEMO[0]}"
        assert event["jti"] == jti
        assert event["token_type"] == "access_token"
        audit_lines.assert_free_of(token, DEMO[1])


class TestFailedAuthentication:
    @pytest.mark.parametrize(
        ("case", "kind", "identity"),
        [
            ("client secret at the token endpoint", "client", DEMO[0]),
            ("password grant", "user", "alice"),
            ("client secret at the revocation endpoint", "client", DEMO[0]),
            ("tenant login page", "user", "alice"),
        ],
    )
    def test_failed(self, client, world, audit_lines, case, kind, identity):
        if case == "client secret at the token endpoint":
            token_request(
                client, TOKEN_PATHS["foo.com"], {"grant_type": "client_credentials"}, (DEMO[0], "bad-secret")
            )
        elif case == "password grant":
            data = {"grant_type": "password", "username": "alice", "password": "bad-secret"}
            token_request(client, TOKEN_PATHS["foo.com"], data, DEMO)
        elif case == "client secret at the revocation endpoint":
            revoke(client, "some-token-value", credentials=(DEMO[0], "bad-secret"))
        else:
            client.post("/t/foo.com/login/", {"username": "alice", "password": "bad-secret"}, secure=True)
        events = audit_lines.events("auth.failed")
        assert [(event["kind"], event["identity"]) for event in events] == [(kind, identity)]
        assert events[0]["path"].endswith(("/oauth2/token", "/oauth2/revoke", "/login/"))
        if kind == "user":
            assert events[0]["tenant"] == "foo.com"
        audit_lines.assert_free_of("bad-secret")


class TestAdminChanges:
    def test_password_set_in_the_admin(self, client, world, audit_lines):
        admin = User.objects.for_tenant(world.super).get(username="admin")
        alice = User.objects.for_tenant(world.foo).get(username="alice")
        client.force_login(admin)
        new_password = "Xy9-a-new-long-password"
        response = client.post(
            f"/admin/identity/user/{alice.pk}/password/",
            {"password1": new_password, "password2": new_password},
            secure=True,
        )
        assert response.status_code == 302, response.content
        (event,) = audit_lines.events("admin.changed")
        assert event["actor"] == "admin@carbon.super"
        assert event["model"] == "identity.user"
        assert event["object_id"] == str(alice.pk)
        assert event["fields"]
        audit_lines.assert_free_of(new_password)

    def test_added_in_the_admin(self, client, world, audit_lines):
        admin = User.objects.for_tenant(world.super).get(username="admin")
        client.force_login(admin)
        response = client.post(
            "/admin/identity/role/add/", {"tenant": world.foo.pk, "name": "auditors"}, secure=True
        )
        assert response.status_code == 302, response.content
        (event,) = audit_lines.events("admin.added")
        assert event["model"] == "identity.role"
        assert event["tenant"] == "carbon.super"


class TestAuditFile:
    def test_owner_only_json_lines(self, tmp_path):
        path = tmp_path / "log" / "audit.jsonl"
        handler = AuditFileHandler(str(path))
        handler.setFormatter(AuditFormatter())
        logger = logging.getLogger("audit")
        logger.addHandler(handler)
        try:
            audit.record("client.created", actor="command", tenant="foo.com", client="app1")
        finally:
            logger.removeHandler(handler)
            handler.close()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        (line,) = path.read_text().splitlines()
        event = json.loads(line)
        assert {key: event[key] for key in ("event", "actor", "tenant", "client")} == {
            "event": "client.created",
            "actor": "command",
            "tenant": "foo.com",
            "client": "app1",
        }
        assert event["time"].endswith("Z")
        assert "request_id" in event
