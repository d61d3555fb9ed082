"""Replayed introspection answers (introspection/replay.py): a repeated request is answered
before Django from the answer Django gave, until a change names a row it was built from.

The requests go through the WSGI application the server runs (the replay layer in front of
Django's handler); whether Django saw a request is told by its ``request_started`` signal
(the ``django_saw`` fixture).
"""

from __future__ import annotations

import gc
import io
import json
import logging
import time

import pytest
from django.test import RequestFactory

from deployment import ThrottleConfig
from identity import logs
from identity.logs import AuditFormatter, ConsoleHandler, JsonLineFormatter, RequestContextFilter
from identity.models import AccessToken, Client
from identity.models.tokens import token_checksum
from identity.services import tenants as tenant_services
from identity.services import tokens as token_services
from identity.services import users as user_services
from introspection.replay import Answer, serve
from tenants.cache import cache
from tests.support import changes
from tests.support.auth import basic
from tests.support.introspection import (
    CLIENT_AND_USER_CALLERS,
    CLIENT_ID,
    CLIENT_SECRET,
    ENDPOINT,
    FOO,
    SUPER,
    configured,
    make_token,
)
from tests.support.metrics import added
from tests.support.worlds import admin_token_world
from tests.support.wsgi import send, server_application

pytestmark = pytest.mark.django_db

ADMIN = basic("admin", "admin")
VIEWER = basic("viewer", "viewer-pw")
FOO_VIEWER = basic("viewer@foo.com", "viewer-pw")
CLIENT = basic(CLIENT_ID, CLIENT_SECRET)
JWT = "application/token-introspection+jwt"
# What one introspection answered "active" by the super tenant's endpoint adds to.
METRICS = {
    "requests": (
        "identity_http_requests_total",
        {"endpoint": "introspect", "method": "POST", "status": "200"},
    ),
    "decisions": ("identity_introspections_total", {"outcome": "active"}),
    "durations": ("identity_http_request_duration_seconds_count", {"endpoint": "introspect"}),
}
application = server_application()


@pytest.fixture(scope="module")
def world(build_once):
    return build_once(admin_token_world)


def call(token: str, auth: str = ADMIN, path: str = ENDPOINT[SUPER], **environ) -> tuple[str, dict, bytes]:
    """POST ``token`` through the server's WSGI application (``environ``: more of the WSGI
    environment); return the status, headers and body."""
    request = RequestFactory().post(path, {"token": token}, secure=True, HTTP_AUTHORIZATION=auth, **environ)
    return send(application, request)


def active(token: str, auth: str = ADMIN, **environ) -> bool | int:
    status, _, body = call(token, auth, **environ)
    return json.loads(body)["active"] if status.startswith("200") else int(status[:3])


class TestReplay:
    def test_repeat_is_answered_before_django_alike(
        self, world, django_saw, django_assert_num_queries, caplog
    ):
        first = call(world.token)
        assert len(django_saw) == 1
        caplog.clear()
        with django_assert_num_queries(0):
            again = call(world.token)
        assert len(django_saw) == 1, "Django answered the repeated request"
        assert again[0] == first[0] == "200 OK"
        assert again[2] == first[2] and json.loads(again[2])["active"] is True
        request_ids = first[1].pop("X-Request-ID"), again[1].pop("X-Request-ID")
        assert again[1] == first[1]  # Cache-Control, security headers, Content-Length
        assert request_ids[0] != request_ids[1]
        # The replayed request is a request of its own: its request line and audit decision.
        lines = {record.name: record for record in caplog.records}
        assert lines["identity.request"].status == 200
        assert lines["audit"].audit["outcome"] == "active"
        assert lines["audit"].audit["caller"] == "admin@carbon.super"

    def test_repeat_moves_the_metrics_django_moved(self, world, django_saw):
        first = added(METRICS, lambda: call(world.token))[1]
        again = added(METRICS, lambda: call(world.token))[1]
        assert len(django_saw) == 1
        assert again == first == dict.fromkeys(METRICS, 1.0)

    def test_its_lines_are_made_ahead_at_its_first_replay(self, world, caplog):
        """Not when it is kept: a first sight pays nothing for a replay that may never come."""
        call(world.token)
        (kept,) = [entry.value for entry in cache._entries.values() if isinstance(entry.value, Answer)]
        assert "request_line" not in vars(kept) and "audit_line" not in vars(kept)
        call(world.token)
        assert "request_line" in vars(kept) and "audit_line" in vars(kept)

    def test_every_input_of_the_answer_is_in_its_key(self, world, django_saw):
        call(world.token)
        call(world.token, REMOTE_ADDR="10.0.0.9")
        call(world.token, path=ENDPOINT[FOO])
        call(world.token, auth=VIEWER)
        assert len(django_saw) == 4

    def test_an_empty_header_is_not_an_absent_one(self, world, django_saw):
        """Django answers 400 to an empty ``Host`` (no host to validate) and 200 without one (it
        takes the server's name). Regression: the key took an absent input for an empty one, so
        the answer kept for a request without ``Host`` was replayed to one with an empty one."""
        for host in (None, None, ""):
            request = RequestFactory().post(ENDPOINT[SUPER], {"token": world.token}, HTTP_AUTHORIZATION=ADMIN)
            assert "HTTP_HOST" not in request.environ
            if host is not None:
                request.environ["HTTP_HOST"] = host
            status = send(application, request)[0]
        assert status.startswith("400")
        assert len(django_saw) == 2  # the second was replayed

    def test_no_answer_while_the_cache_cannot_hear(self, world, django_saw):
        call(world.token)
        cache.trusted = lambda: False
        try:
            call(world.token)
            call(world.token)
        finally:
            cache.trusted = lambda: True
        assert len(django_saw) == 3


class ServerLogs:
    """The request and audit loggers shaped as the server's (``identity.logs.logging_config``):
    each logger's lines go to one handler of ours alone, which keeps them until flushed (none
    reaches pytest's capture, which the server does not have)."""

    NAMES = ("identity.request", "audit")

    def __init__(self, monkeypatch):
        self.handlers = {}
        for name, formatter in zip(self.NAMES, (JsonLineFormatter, AuditFormatter), strict=True):
            handler = ConsoleHandler(io.StringIO(), flush_interval=60)
            handler.setFormatter(formatter())
            handler.addFilter(RequestContextFilter())
            monkeypatch.setattr(logging.getLogger(name), "propagate", False)
            monkeypatch.setattr(logging.getLogger(name), "handlers", [handler])
            self.handlers[name] = handler

    def written(self, name: str) -> list[dict]:
        """The lines of logger ``name`` written so far (nothing flushed)."""
        return [json.loads(line) for line in self.handlers[name].stream.getvalue().splitlines()]

    def lines(self, name: str) -> list[dict]:
        """Every line of logger ``name``, the waiting ones flushed first."""
        self.handlers[name].flush()
        return self.written(name)


@pytest.fixture
def server_logs(monkeypatch):
    shaped = ServerLogs(monkeypatch)
    yield shaped
    for handler in shaped.handlers.values():
        handler.close()


class Seen(logging.Handler):
    """The records that reach it."""

    def __init__(self):
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


def not_on_the_request_path(*args, **kwargs):
    raise AssertionError("a line was written on the request path")


class TestHandedToTheBatchThread:
    """With the server's logging, a replayed answer hands its request line, audit event and
    counts to the batch thread in one append (identity/request_id.py ``Replayed``): the same
    lines and counts, no later than a line written after them, a scrape or the process's exit,
    and written the usual way as soon as anything else would see them."""

    def test_the_lines_are_the_usual_ones(self, world, server_logs, monkeypatch):
        call(world.token, HTTP_X_REQUEST_ID="req-django")  # Django's answer, its lines the usual way
        monkeypatch.setattr(logs, "info", not_on_the_request_path)
        monkeypatch.setattr(logs.PreparedLine, "write", not_on_the_request_path)
        headers = call(world.token, HTTP_X_REQUEST_ID="req-replayed")[1]
        generated = call(world.token)[1]["X-Request-ID"]
        assert headers["X-Request-ID"] == "req-replayed"
        for name in ServerLogs.NAMES:
            django, replayed, other = server_logs.lines(name)
            assert replayed == {
                **django,
                "time": replayed["time"],
                "request_id": "req-replayed",
                **({"duration_ms": replayed["duration_ms"]} if name == "identity.request" else {}),
            }
            assert replayed["time"].endswith("Z") and other["request_id"] == generated
        for logged in server_logs.lines("identity.request") + server_logs.lines("audit"):
            assert world.token not in json.dumps(logged)

    def test_every_answer_shares_one_check(self, world, server_logs):
        """One check (identity.logs.Route) for the pair of loggers, not one an answer: each holds
        a function made for it, and the cache holds up to 100,000 answers."""
        other = make_token(world.clients[SUPER])
        for token in (world.token, world.token, other, other):
            call(token)
        kept = [entry.value for entry in cache._entries.values() if isinstance(entry.value, Answer)]
        assert len(kept) == 2
        assert kept[0].replayed.route is kept[1].replayed.route

    def test_the_counts_are_added_before_a_scrape(self, world, server_logs):
        call(world.token)
        assert added(METRICS, lambda: call(world.token))[1] == dict.fromkeys(METRICS, 1.0)

    def test_what_is_handed_over_gives_the_collector_nothing_to_track(self, world, server_logs):
        """A replay hands over values, not a tuple holding its answer's lines: a tuple tracked
        by the garbage collector, waiting for the thread, would reach the collector's oldest
        generation, whose full collections cost more than the rest of a replay's observability
        (identity.batches.Deferred)."""
        call(world.token)
        call(world.token)
        answer = next(entry.value for entry in cache._entries.values() if isinstance(entry.value, Answer))
        environ = {"REQUEST_METHOD": "POST", "SCRIPT_NAME": "", "PATH_INFO": ENDPOINT[SUPER]}

        def start_response(status, headers, exc_info=None):
            return None

        server_logs.lines("audit")  # nothing waits
        gc.disable()
        try:
            before = gc.get_count()[0]
            for _ in range(100):
                serve(environ, start_response, answer)
            added = gc.get_count()[0] - before
        finally:
            gc.enable()
        assert len(server_logs.lines("audit")) == 102
        assert added < 10

    @pytest.mark.parametrize("change", ["handler", "filter", "handler's filter", "level"])
    def test_written_the_usual_way_once_anything_else_would_see_them(
        self, world, server_logs, monkeypatch, change
    ):
        """Checked at each request: the replay before the change had its lines handed over."""
        call(world.token)
        call(world.token)
        seen = Seen()
        levels = {}
        for name in ServerLogs.NAMES:
            logger, handler = logging.getLogger(name), server_logs.handlers[name]
            monkeypatch.setattr(logger, "filters", [])  # what is added to them goes with the test
            levels[logger] = logger.level
            if change == "handler":
                logger.addHandler(seen)
            elif change == "filter":
                logger.addFilter(seen.handle)
            elif change == "handler's filter":
                handler.addFilter(seen.handle)
            else:
                logger.setLevel(logging.WARNING)
        try:
            call(world.token)
        finally:
            for logger, level in levels.items():
                logger.setLevel(level)
        wanted = set() if change == "level" else set(ServerLogs.NAMES)
        assert {record.name for record in seen.records} == wanted
        assert len(server_logs.lines("identity.request")) == (2 if change == "level" else 3)

    @pytest.mark.parametrize("later", ["direct", "warning"])
    def test_a_later_line_comes_after_them(self, world, server_logs, later):
        call(world.token)
        call(world.token)
        logger = logging.getLogger("identity.request")
        if later == "direct":
            logs.info(logger, "later", {})
            written = server_logs.lines("identity.request")
        else:
            logger.warning("later")  # written at once, with what waits before it
            written = server_logs.written("identity.request")
        assert [line["message"] for line in written] == ["POST /oauth2/introspect 200"] * 2 + ["later"]

    def test_without_batches_each_line_is_written_at_once(self, world, server_logs, monkeypatch):
        """``[logging] flush_interval = 0`` writes each line at once: a replay's too."""
        for handler in server_logs.handlers.values():
            monkeypatch.setattr(handler, "flush_interval", 0)
        call(world.token)
        call(world.token)
        assert len(server_logs.written("identity.request")) == len(server_logs.written("audit")) == 2


# A change to each row the answer was built from: (change, caller, answer after it).
def revoke(world):
    token_services.revoke_token(_token(world), actor="test")


def delete_token(world):
    _token(world).delete()


def lock_owner(world):
    user_services.lock_user(world.users[SUPER]["admin"], actor="test")


def bulk_revoke(world):
    AccessToken.objects.all_tenants().update(revoked=None, scope="changed")


def _token(world) -> AccessToken:
    return AccessToken.objects.all_tenants().get(token_checksum=token_checksum(world.token))


@pytest.mark.parametrize(
    ("change", "caller", "after"),
    [
        (revoke, ADMIN, False),
        (delete_token, ADMIN, False),
        (lock_owner, VIEWER, False),
        (changes.deactivate_client, VIEWER, False),
        (changes.change_viewers_password, VIEWER, 401),
        (changes.remove_viewers_permissions, VIEWER, 403),
    ],
)
def test_a_change_reaches_the_replayed_answer(world, change, caller, after):
    assert active(world.token, caller) is True
    assert active(world.token, caller) is True  # replayed
    change(world)
    assert active(world.token, caller) == after


def test_a_tenant_deactivation_reaches_the_replayed_answer(world):
    token = make_token(world.clients[FOO], user=world.users[FOO]["admin"])
    for _ in range(2):
        assert active(token, FOO_VIEWER, path=ENDPOINT[FOO]) is True
    tenant_services.deactivate_tenant(world.tenants[FOO], actor="test")
    assert active(token, FOO_VIEWER, path=ENDPOINT[FOO]) == 404  # no such tenant any more


GUESSER = "10.0.0.9"


@pytest.mark.parametrize(
    ("limits", "guess", "guessed_from", "after"),
    [
        (ThrottleConfig(per_identity=100, per_address=2), basic("intruder", "wrong"), None, 429),
        (ThrottleConfig(per_identity=2, per_address=100), basic("viewer", "wrong"), None, 429),
        (ThrottleConfig(per_identity=2, lock_identity=True), basic("viewer", "wrong"), GUESSER, 429),
    ],
    ids=["address", "identity from the address", "identity locked from another address"],
)
def test_a_throttle_block_reaches_the_replayed_answer(
    world, deployment_override, limits, guess, guessed_from, after
):
    """Past the throttling limits every attempt of the address, or of the identity from it, is
    refused until the window ends, a repeated one too. Regression: the replayed answer was
    served before any throttling check, so a blocked address went on guessing for free (refused
    attempts are not counted) until a guess matching a kept answer (a credential in use, with a
    token it introspects) was answered 200. An identity locked from elsewhere (``lock_identity``)
    is refused too, as Django's path refuses it (SPEC §11, docs/security.md); regression: its
    own address was still given the answers kept for it, while a first sight of another token
    (introspection/first_sight.py) was refused."""
    deployment_override(throttle=limits)
    where = {"REMOTE_ADDR": guessed_from} if guessed_from else {}
    for _ in range(2):
        assert active(world.token, VIEWER) is True  # the second replayed
    for _ in range(2):
        assert active(world.token, guess, **where) == 401
    assert active(world.token, guess, **where) == 429  # by Django, which now keeps the block
    assert active(world.token, VIEWER) == after


def test_a_bulk_update_reaches_the_replayed_answer(world):
    call(world.token)
    AccessToken.objects.all_tenants().filter(token_checksum=token_checksum(world.token)).update(scope="test2")
    assert json.loads(call(world.token)[2])["scope"] == "test2"


class TestNeverKept:
    def test_unknown_token_is_answered_at_once_when_it_appears(self, world):
        client = world.clients[SUPER]
        raw = "issued-a-moment-later"
        assert active(raw) is False
        AccessToken.objects.create(
            tenant=client.tenant,
            application=client,
            user=client.user,
            expires=AccessToken.objects.all_tenants().get(token_checksum=token_checksum(world.token)).expires,
            token_checksum=token_checksum(raw),
        )
        assert active(raw) is True

    def test_errors(self, world, django_saw):
        viewer = world.users[SUPER]["viewer"]
        wrong = basic("viewer", "will-be-right-1")
        assert active(world.token, wrong) == 401
        assert active(world.token, wrong) == 401
        assert len(django_saw) == 2
        user_services.set_password(viewer, "will-be-right-1", actor="test")
        assert active(world.token, wrong) is True

    def test_jwt_answers(self, world, django_saw):
        for _ in range(2):
            _status, headers, _ = call(world.token, HTTP_ACCEPT=JWT)
            assert headers["Content-Type"].startswith(JWT)
        assert len(django_saw) == 2

    def test_answers_changed_by_a_script(self, world, django_saw, deployment_override):
        deployment = configured(
            '[[oauth.introspect.script]]\nname = "first"\ncallable = "tests.script_hooks:first"\n'
        )
        deployment_override(oauth=deployment.oauth)
        client = Client.objects.all_tenants().get(pk=world.clients[SUPER].pk)
        client.introspection_scripts = ["first"]
        client.save()
        for _ in range(2):
            assert json.loads(call(world.token)[2])["ran"] == ["first"]
        assert len(django_saw) == 2

    def test_an_answer_that_raced_a_change(self, world, django_saw):
        """A change heard while Django was answering: the answer may predate it."""
        inner = application.application
        application.application = lambda environ, start: (cache.invalidate([("x",)]), inner(environ, start))[
            1
        ]
        try:
            call(world.token)
        finally:
            application.application = inner
        call(world.token)
        assert len(django_saw) == 2

    def test_past_the_token_expiry(self, world, deployment_override):
        deployment_override(resource=configured(CLIENT_AND_USER_CALLERS).resource)
        raw = make_token(world.clients[SUPER], expires_in=1)
        assert active(raw, CLIENT) is True
        time.sleep(1.1)
        assert active(raw, CLIENT) is False
