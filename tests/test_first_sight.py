"""First sights answered before Django (introspection/first_sight.py): once Django has let a
caller through, its requests of the same shape about other tokens are answered by the view's
own functions of the token, with Django's status and headers, until a change names a row the
caller's answer was built from.

Whether Django saw a request is told by its ``request_started`` signal (``django_saw``). An
answer "as Django gives it" is the one Django gives once the process's cache is emptied (the
caller's pass with it).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import urlencode

import pytest
from django.db import InterfaceError
from django.test import RequestFactory
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deployment import CacheConfig, ThrottleConfig
from identity import throttle
from identity.models import AccessToken, Client
from identity.models.tokens import token_checksum
from identity.services import tenants as tenant_services
from identity.services import tokens as token_services
from identity.services import users as user_services
from introspection import authentication, first_sight, lookup
from tenants.cache import cache
from tests.support import changes
from tests.support.auth import basic, bearer
from tests.support.introspection import (
    CLIENT_AND_USER_CALLERS,
    CLIENT_ID,
    CLIENT_SECRET,
    ENDPOINT,
    EVERY_HANDLER,
    FOO,
    SUPER,
    configured,
    make_refresh_token,
    make_token,
)
from tests.support.metrics import added
from tests.support.worlds import introspection_world
from tests.support.wsgi import send, server_application

pytestmark = pytest.mark.django_db

ADMIN = basic("admin", "admin")
VIEWER = basic("viewer", "viewer-pw")
CLIENT = basic(CLIENT_ID, CLIENT_SECRET)
FORM = "application/x-www-form-urlencoded"
application = server_application()


@pytest.fixture(scope="module")
def world(build_once):
    return build_once(introspection_world)


@pytest.fixture(autouse=True)
def client_callers(deployment_override):
    deployment_override(resource=configured(CLIENT_AND_USER_CALLERS).resource)


def call(form: dict, auth: str = CLIENT, path: str = ENDPOINT[SUPER], **environ) -> tuple[str, dict, bytes]:
    """POST ``form`` (URL-encoded, as RFC 7662 §2.1 sends it) through the server's WSGI
    application; return status, headers, body."""
    request = RequestFactory().post(
        path, urlencode(form), FORM, secure=True, HTTP_AUTHORIZATION=auth, **environ
    )
    return send(application, request)


def through_django(form: dict, auth: str = CLIENT, **environ) -> tuple[str, dict, bytes]:
    """The answer Django gives ``form``: asked with an empty cache (no pass, no kept answer)."""
    cache.clear(pins=False)
    return call(form, auth, **environ)


def comparable(answer: tuple[str, dict, bytes]) -> tuple[str, dict, bytes]:
    status, headers, body = answer
    return status, {name: value for name, value in headers.items() if name != "X-Request-ID"}, body


def let_through(world, auth: str = CLIENT) -> None:
    """Have Django answer the caller once (its pass is kept)."""
    assert call({"token": make_token(world.clients[SUPER])}, auth)[0] == "200 OK"


# Tokens of each kind and state, and what the super tenant's endpoint answers of them.
def user_token(world) -> str:
    return make_token(world.clients[SUPER], user=world.users[SUPER]["admin"], scope="test1 test2")


def app_token(world) -> str:
    return make_token(world.clients[SUPER], user=None, resource=("https://api.example", "urn:b"))


def refresh_token(world) -> str:
    return make_refresh_token(world.clients[SUPER], world.users[SUPER]["admin"], scope="test1")


def revoked_token(world) -> str:
    return make_token(world.clients[SUPER], revoked=True)


def expired_token(world) -> str:
    return make_token(world.clients[SUPER], expires_in=-10)


def other_tenants_token(world) -> str:
    return make_token(world.clients[FOO], user=world.users[FOO]["admin"])


def unknown_token(world) -> str:
    return "never-issued-" + make_token(world.clients[SUPER])


def locked_users_token(world) -> str:
    token = make_token(world.clients[SUPER], user=world.users[SUPER]["login"])
    user_services.lock_user(world.users[SUPER]["login"], actor="test")
    return token


TOKENS: dict[str, tuple[Callable, bool | None]] = {
    "a user's": (user_token, True),
    "an application's, two audiences": (app_token, True),
    "a refresh token": (refresh_token, True),
    "revoked": (revoked_token, False),
    "expired": (expired_token, False),
    "another tenant's": (other_tenants_token, False),
    "unknown": (unknown_token, False),
    "a locked user's": (locked_users_token, False),
}


class TestAnsweredAsDjangoAnswers:
    @pytest.mark.parametrize("hint", ["", "access_token", "refresh_token"])
    @pytest.mark.parametrize("kind", TOKENS)
    def test_each_kind_of_token(self, world, django_saw, kind, hint):
        make, active = TOKENS[kind]
        form = {"token": make(world), **({"token_type_hint": hint} if hint else {})}
        let_through(world)
        seen = len(django_saw)
        first_sight = call(form)
        assert len(django_saw) == seen, "Django answered a first sight of a caller it let through"
        assert json.loads(first_sight[2])["active"] is active
        assert comparable(first_sight) == comparable(through_django(form))

    @pytest.mark.parametrize("kind", ["client", "user", "bearer", "anonymous"])
    def test_each_kind_of_caller(self, world, django_saw, deployment_override, kind):
        """Each kind of caller is answered by its pass (as long as its credential is cached)."""
        deployment_override(
            resource=configured(EVERY_HANDLER).resource,
            oauth=configured("[oauth.introspect]\nskip_authorization = true").oauth,
        )
        holders_token = make_token(
            world.clients[SUPER], user=world.users[SUPER]["admin"], scope="internal_oauth2_introspect"
        )
        auth = {
            "client": CLIENT,
            "user": VIEWER,
            "bearer": bearer(holders_token),
            "anonymous": "",
        }[kind]
        let_through(world, auth)
        seen = len(django_saw)
        form = {"token": user_token(world)}
        first_sight = call(form, auth)
        assert len(django_saw) == seen, "Django answered a first sight of a caller it let through"
        assert comparable(first_sight) == comparable(through_django(form, auth))

    def test_the_issuer_is_the_one_the_caller_reaches(self, world, django_saw, deployment_override):
        """``iss`` follows the host a trusted proxy names, as in Django's answer."""
        proxied = dict(
            REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_HOST="id.example", HTTP_X_FORWARDED_PROTO="https"
        )
        deployment_override(server=configured('[server]\ntrusted_proxies = ["10.0.0.1"]').server)
        call({"token": make_token(world.clients[SUPER])}, **proxied)
        form = {"token": user_token(world)}
        first_sight = call(form, **proxied)
        assert json.loads(first_sight[2])["iss"] == "https://id.example"
        assert comparable(first_sight) == comparable(through_django(form, **proxied))

    def test_its_request_line_audit_event_and_metrics_are_djangos(self, world, caplog):
        metrics = {
            "requests": (
                "identity_http_requests_total",
                {"endpoint": "introspect", "method": "POST", "status": "200"},
            ),
            "decisions": ("identity_introspections_total", {"outcome": "active"}),
        }
        form = {"token": user_token(world)}
        let_through(world)
        caplog.clear()
        moved = added(metrics, lambda: call(form))[1]
        first = {record.name: record for record in caplog.records}
        caplog.clear()
        through_django(form)
        django = {record.name: record for record in caplog.records}
        assert moved == dict.fromkeys(metrics, 1.0)
        assert first["audit"].audit == django["audit"].audit
        assert first["audit"].audit["caller"] == CLIENT_ID and first["audit"].audit["outcome"] == "active"
        assert first["identity.request"].getMessage() == django["identity.request"].getMessage()

    def test_it_is_kept_and_replayed(self, world, django_saw, django_assert_num_queries):
        form = {"token": user_token(world)}
        let_through(world)
        call(form)
        with django_assert_num_queries(0):
            again = call(form)
        assert json.loads(again[2])["active"] is True
        revoked = AccessToken.objects.all_tenants().get(token_checksum=token_checksum(form["token"]))
        token_services.revoke_token(revoked, actor="test")
        assert json.loads(call(form)[2]) == {"active": False}


# Forms a resource server, a broken client or an attacker may send: any text, hints and names.
FORMS = st.fixed_dictionaries(
    {"token": st.one_of(st.text(max_size=60), st.sampled_from(["", " ", "%00", "a" * 3000]))},
    optional={
        "token_type_hint": st.one_of(
            st.sampled_from(["access_token", "refresh_token", ""]), st.text(max_size=10)
        ),
        "appTenant": st.sampled_from([SUPER, FOO, "nosuch.org", ""]),
        "response_as_jwt": st.sampled_from(["true", "false", "maybe"]),
        "other": st.text(max_size=5),
    },
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(form=FORMS, known=st.booleans())
def test_any_form_is_answered_as_django_answers_it(world, form, known):
    """Whatever the form, the answer a caller's pass gives (or leaves to Django) is Django's:
    status, headers and body; never a 5xx."""
    if known:
        form = {**form, "token": user_token(world)}
    let_through(world)
    answer = call(form)
    assert not answer[0].startswith("5")
    if "response_as_jwt" not in form:  # a JWT's iat and jti differ at each answer
        assert comparable(answer) == comparable(through_django(form))


class TestLeftToDjango:
    """Requests a pass does not answer: Django answers them as it would without one."""

    @pytest.mark.parametrize(
        "form",
        [
            {"response_as_jwt": "true"},
            {"appTenant": FOO},
            {"unexpected": "1"},
            {"token": ""},
        ],
        ids=["response_as_jwt", "appTenant", "another parameter", "an empty token"],
    )
    def test_a_form_with_more_than_the_token(self, world, django_saw, form):
        let_through(world)
        seen = len(django_saw)
        answer = call({"token": user_token(world), **form})
        assert len(django_saw) == seen + 1
        assert comparable(answer)[0] == comparable(through_django({"token": user_token(world), **form}))[0]

    def test_a_form_the_request_limits_refuse(self, world, django_saw):
        let_through(world)
        seen = len(django_saw)
        request = RequestFactory().post(ENDPOINT[SUPER], b"token=\xff", FORM, HTTP_AUTHORIZATION=CLIENT)
        assert send(application, request)[0].startswith("400")
        assert len(django_saw) == seen + 1

    def test_a_token_whose_client_runs_scripts(self, world, django_saw, deployment_override):
        """Scripts get the request: another tenant's token (answered across tenants) whose
        client runs one goes to Django, which runs it."""
        deployment = configured(
            "[oauth.introspect]\nallow_cross_tenant = true\n\n"
            '[[oauth.introspect.script]]\nname = "first"\ncallable = "tests.script_hooks:first"\n'
        )
        deployment_override(oauth=deployment.oauth)
        client = Client.objects.all_tenants().get(pk=world.clients[FOO].pk)
        client.introspection_scripts = ["first"]
        client.save()
        let_through(world)
        seen = len(django_saw)
        answer = call({"token": other_tenants_token(world)})
        assert len(django_saw) == seen + 1
        assert json.loads(answer[2])["ran"] == ["first"]

    def test_the_first_request_of_a_shape_needs_django(self, world, django_saw):
        """The pass is per shape: another path, address or credential is Django's first."""
        let_through(world)
        seen = len(django_saw)
        call({"token": user_token(world)}, REMOTE_ADDR="10.0.0.9")
        call({"token": user_token(world)}, path=ENDPOINT[FOO])
        call({"token": user_token(world)}, auth=VIEWER)
        assert len(django_saw) == seen + 3

    def test_a_pass_is_kept_only_from_a_form_of_the_token_alone(self, world, django_saw):
        """A first answer with ``appTenant`` leaves no pass for requests without it."""
        call({"token": make_token(world.clients[SUPER]), "appTenant": SUPER})
        seen = len(django_saw)
        call({"token": user_token(world)})
        assert len(django_saw) == seen + 1


def lock_viewer(world):
    user_services.lock_user(world.users[SUPER]["viewer"], actor="test")


def deactivate_foo(world):
    tenant_services.deactivate_tenant(world.tenants[FOO], actor="test")


@pytest.mark.parametrize(
    ("change", "caller", "path", "after"),
    [
        (changes.deactivate_client, CLIENT, ENDPOINT[SUPER], "401"),
        (changes.change_viewers_password, VIEWER, ENDPOINT[SUPER], "401"),
        (changes.remove_viewers_permissions, VIEWER, ENDPOINT[SUPER], "403"),
        (lock_viewer, VIEWER, ENDPOINT[SUPER], "401"),
        (deactivate_foo, basic("admin@foo.com", "admin"), ENDPOINT[FOO], "40"),
    ],
)
def test_a_change_to_the_caller_reaches_its_pass(world, change, caller, path, after):
    """A new token after a change to the caller, its rights or the path's tenant is answered as
    Django answers it: the pass was dropped with the entries it was built from."""
    assert call({"token": make_token(world.clients[SUPER])}, caller, path)[0] == "200 OK"
    assert call({"token": make_token(world.clients[SUPER])}, caller, path)[0] == "200 OK"  # by the pass
    change(world)
    assert call({"token": make_token(world.clients[SUPER])}, caller, path)[0].startswith(after)


@pytest.mark.parametrize(
    ("limits", "guess", "guessed_from"),
    [
        (ThrottleConfig(per_identity=100, per_address=2), basic("intruder", "wrong"), None),
        (ThrottleConfig(per_identity=2, per_address=100), basic("viewer", "wrong"), None),
        (ThrottleConfig(per_identity=2, lock_identity=True), basic("viewer", "wrong"), "10.0.0.9"),
    ],
    ids=["address", "identity from the address", "identity locked from another address"],
)
def test_a_throttle_block_refuses_a_first_sight(world, deployment_override, limits, guess, guessed_from):
    """Past the limits every attempt of the address or identity is refused (SPEC §11), a known
    caller's first sight of a token too, as Django's path refuses it."""
    deployment_override(throttle=limits)
    where = {"REMOTE_ADDR": guessed_from} if guessed_from else {}
    let_through(world, VIEWER)
    for _ in range(2):
        assert call({"token": "x"}, guess, **where)[0].startswith("401")
    assert call({"token": "x"}, guess, **where)[0].startswith("429")
    assert call({"token": user_token(world)}, VIEWER)[0].startswith("429")


class TestFailures:
    """A first sight that fails is answered as Django's path answers it: JSON, never the WSGI
    server's HTML 500 page."""

    def test_a_connection_error_outside_database_error_is_djangos_503(self, world, monkeypatch):
        """Regression: Django's ``InterfaceError`` (psycopg's "the cursor is closed", "the
        connection is in status ...") is no ``DatabaseError``; a first sight's read raising it
        escaped the replay layer (gunicorn's HTML 500), where Django's path answers an outage."""
        let_through(world)
        form = {"token": user_token(world)}

        def closed(*values):
            raise InterfaceError("the cursor is closed")

        monkeypatch.setattr(lookup._ACCESS_TOKEN, "first", closed)
        answer = call(form)
        assert answer[0].startswith("503")
        assert json.loads(answer[2])["error"] == "temporarily_unavailable"
        assert comparable(answer)[:2] == comparable(through_django(form))[:2]

    def test_a_bug_of_the_first_sight_is_left_to_django(self, world, django_saw, monkeypatch, caplog):
        """Regression: an exception of the first sight's own code (here its claims) escaped the
        replay layer as the WSGI server's HTML 500; Django answers the request instead."""
        let_through(world)
        form = {"token": user_token(world)}

        def broken(*args):
            raise RuntimeError("a bug")

        monkeypatch.setattr(first_sight, "active_claims", broken)
        seen = len(django_saw)
        answer = call(form)
        assert len(django_saw) == seen + 1
        assert comparable(answer) == comparable(through_django(form))
        assert form["token"] not in caplog.text


def test_a_pass_serves_its_caller_only_while_the_caller_is_cached(world, deployment_override):
    """Regression: a pass outlived its caller's verified-caller entry (read by Django's path
    alone, that entry left the cache first, pushed out by what first sights keep). Django then
    checks the credential for real, and its throttling counters with it: over ``per_identity``
    (counted by another process), it answers 429; the pass went on answering 200."""
    deployment_override(cache=CacheConfig(max_entries=100), throttle=ThrottleConfig(per_identity=2))
    let_through(world, VIEWER)
    for n in range(99):  # other requests' entries push out all but the newest one: the pass
        cache.put(("other", n), n, [])
    assert not authentication.is_known("user", "viewer", "viewer-pw")
    elsewhere = RequestFactory().post(ENDPOINT[SUPER])  # the same address, another worker
    for _ in range(2):
        throttle.failed(elsewhere, throttle.user_identity(SUPER, "viewer"))
    assert call({"token": user_token(world)}, VIEWER)[0].startswith("429")
