"""The layer that refuses a blocked address's introspection requests before Django
(introspection/throttle_gate.py): its 429 is Django's, with the same audit events, metrics and
request line, and it answers nothing Django would answer otherwise.

Regression of issue 11: each 429 of a flood from a blocked address cost a whole pass through
Django, and a correct caller queued behind the flood. The requests go through the WSGI
application the server runs; whether Django saw one is told by its ``request_started`` signal.
"""

from __future__ import annotations

import dataclasses
import json
import time
from datetime import timedelta
from types import SimpleNamespace
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.test import RequestFactory
from django.utils import timezone

from deployment import ThrottleConfig
from identity import throttle
from identity.models.throttle_counters import ThrottleCounter
from identity.services import tenants as tenant_services
from tenants import cache as cache_module
from tests.support.auth import basic
from tests.support.introspection import ENDPOINT, EVERY_HANDLER, FOO, SUPER, configured
from tests.support.metrics import added
from tests.support.worlds import admin_token_world
from tests.support.wsgi import send, server_application

pytestmark = pytest.mark.django_db

ATTACKER, OTHER = "203.0.113.66", "198.51.100.10"
FORM = "application/x-www-form-urlencoded"
WINDOW = ThrottleConfig().window
BEARER = "not-a-token-and-never-logged"
application = server_application()

# The metrics a refusal counts: (name, labels).
METRICS = {
    "throttled": ("identity_throttled_requests_total", {"limit": "per_address"}),
    "decisions": ("identity_introspections_total", {"outcome": "429"}),
    "requests": (
        "identity_http_requests_total",
        {"endpoint": "introspect", "method": "POST", "status": "429"},
    ),
    "durations": ("identity_http_request_duration_seconds_count", {"endpoint": "introspect"}),
}


@pytest.fixture(scope="module")
def world(build_once):
    return build_once(admin_token_world)


@pytest.fixture
def limits(deployment_override):
    """Every handler accepted; an address is blocked after 2 failures (an identity after 100)."""
    return deployment_override(
        throttle=ThrottleConfig(per_identity=100, per_address=2), resource=configured(EVERY_HANDLER).resource
    )


def post(
    auth: str | None,
    data: dict | None = None,
    *,
    path: str = ENDPOINT[SUPER],
    address: str = ATTACKER,
    body: bytes | None = None,
    content_type: str = FORM,
    **environ,
) -> tuple[str, dict, bytes]:
    """POST a form (``body``: these bytes instead) through the server's WSGI application."""
    if auth is not None:
        environ["HTTP_AUTHORIZATION"] = auth
    payload = body if body is not None else urlencode(data or {"token": "x"})
    request = RequestFactory().post(path, payload, content_type=content_type, REMOTE_ADDR=address, **environ)
    return send(application, request)


def block(path: str = ENDPOINT[SUPER]) -> None:
    """Fail twice from the attacker's address: its next request is refused, and it is blocked."""
    for number in range(2):
        assert post(basic(f"probe-{number}", "wrong"), path=path)[0].startswith("401")


def observed(caplog, *args, **kwargs):
    """Send ``post(*args, **kwargs)``; return its answer, the audit events and request lines it
    wrote, and what it added to each metric."""
    caplog.clear()
    answer, moved = added(METRICS, lambda: post(*args, **kwargs))
    events = [record.audit for record in caplog.records if hasattr(record, "audit")]
    lines = [record.getMessage() for record in caplog.records if record.name == "identity.request"]
    return answer, events, lines, moved


# The credentials of a flood: (Authorization, form), each parsed into identities as Django does.
CREDENTIALS = {
    "basic user": (basic("intruder", "wrong"), {}),
    "basic user of a tenant": (basic("intruder@foo.com", "wrong"), {}),
    "basic client of appTenant": (basic("some-client", "wrong"), {"appTenant": FOO}),
    "basic client of an unknown appTenant": (basic("some-client", "wrong"), {"appTenant": "nosuch.org"}),
    "bearer": (f"Bearer {BEARER}", {}),
    "malformed basic": ("Basic !!!", {}),
    "another scheme": ("Digest username=x", {}),
}


@pytest.mark.parametrize("case", list(CREDENTIALS))
def test_the_layers_refusal_is_djangos(world, limits, django_saw, caplog, case):
    auth, form = CREDENTIALS[case]
    data = {"token": "x", **form}
    block()
    by_django = observed(caplog, auth, data)
    assert len(django_saw) == 3, "Django refused the address first"
    by_layer = observed(caplog, auth, data)
    assert len(django_saw) == 3, "Django refused the request the layer should have"
    (status, headers, body), events, lines, added = by_layer
    django_status, django_headers, django_body = by_django[0]
    assert status == django_status == "429 Too Many Requests"
    assert body == django_body
    assert json.loads(body)["error"] == "too_many_requests"
    varying = ("Date", "X-Request-ID", "Retry-After")
    assert {k: v for k, v in headers.items() if k not in varying} == {
        k: v for k, v in django_headers.items() if k not in varying
    }
    assert set(headers) == set(django_headers)
    assert headers["X-Request-ID"] != django_headers["X-Request-ID"]
    retry_after = int(headers["Retry-After"])
    assert 1 <= retry_after <= int(django_headers["Retry-After"]) <= WINDOW
    # The same side effects: the audit events (the same fields), the metrics, the request line.
    assert [event["event"] for event in events] == ["auth.throttled", "introspection.decision"]
    assert events[0]["retry_after"] == retry_after
    for event in (events[0], by_django[1][0]):
        event.pop("retry_after")
    assert events == by_django[1]
    assert events[0]["limits"] == ["per_address"] and events[0]["address"] == ATTACKER
    assert lines == by_django[2] == [f"POST {ENDPOINT[SUPER]} 429"]
    assert added == by_django[3] == dict.fromkeys(METRICS, 1.0)
    assert BEARER not in caplog.text


def test_a_refusal_costs_no_query(world, limits, django_saw, django_assert_num_queries):
    block()
    post(basic("intruder", "wrong"))
    with django_assert_num_queries(0):
        assert post(basic("intruder-2", "wrong"))[0].startswith("429")
    assert len(django_saw) == 3


def test_a_tenant_not_cached_yet_is_read_by_django(world, limits, django_saw, django_assert_num_queries):
    """A login naming a domain the process never looked up: Django reads it (the layer makes no
    query), and the layer refuses the next request naming it."""
    unseen = basic("intruder@never-seen.org", "wrong")
    block()
    post(basic("intruder", "wrong"))
    assert post(unseen)[0].startswith("429")
    assert len(django_saw) == 4
    with django_assert_num_queries(0):
        assert post(unseen)[0].startswith("429")
    assert len(django_saw) == 4


def test_retry_after_counts_down_to_the_blocks_end(world, limits, django_saw, monkeypatch):
    block()
    by_django = int(post(basic("intruder", "wrong"))[1]["Retry-After"])
    later = time.time() + 120
    monkeypatch.setattr(throttle, "time", SimpleNamespace(time=lambda: later))
    assert by_django - 121 <= int(post(basic("intruder", "wrong"))[1]["Retry-After"]) <= by_django - 119
    assert len(django_saw) == 3


def test_an_identitys_longer_block_is_named_as_django_names_it(
    world, deployment_override, django_saw, caplog
):
    """An address blocked while the identity of its credential is too, from a later first
    failure (its window ends later): the layer's Retry-After and audited limits are Django's.
    Regression: the layer counted the address's block alone, so its Retry-After sent the client
    back before the identity's block ended, and its ``auth.throttled`` event left that block out."""
    deployment_override(
        throttle=ThrottleConfig(per_identity=2, per_address=2), resource=configured(EVERY_HANDLER).resource
    )
    block()  # probe-0 and probe-1: the address's two failures
    deployment_override(throttle=ThrottleConfig(per_identity=2, per_address=4))
    for _ in range(2):
        assert post(basic("intruder", "wrong"))[0].startswith("401")
    address = throttle._key("address", ATTACKER)
    later = timezone.now() + timedelta(seconds=WINDOW + 100)
    ThrottleCounter.objects.exclude(key=address).update(expires=later)
    deployment_override(throttle=ThrottleConfig(per_identity=2, per_address=2))
    by_django = observed(caplog, basic("intruder", "wrong"))
    by_layer = observed(caplog, basic("intruder", "wrong"))
    assert len(django_saw) == 5
    assert by_django[1][0]["limits"] == ["per_address", "per_identity"]
    assert by_layer[1][0]["limits"] == by_django[1][0]["limits"]
    retry_after = int(by_layer[0][1]["Retry-After"])
    assert retry_after > WINDOW and int(by_django[0][1]["Retry-After"]) - retry_after <= 1


def test_the_request_id_is_the_callers_when_well_formed(world, limits):
    block()
    post(basic("intruder", "wrong"))
    assert post(basic("intruder", "wrong"), HTTP_X_REQUEST_ID="flood-1")[1]["X-Request-ID"] == "flood-1"
    fresh = post(basic("intruder", "wrong"), HTTP_X_REQUEST_ID="not well formed")[1]["X-Request-ID"]
    assert fresh != "not well formed" and len(fresh) == 32


class TestServedAsToday:
    """A blocked address's requests the layer leaves to Django, answered as before it."""

    def test_a_known_callers_right_password_is_refused_too(self, world, limits, django_saw):
        """Past the limit every credential of the address is refused, a cached caller's too
        (SPEC §11). Regression: it was served, so a blocked address guessed on for free until a
        guess of a credential in use (a resource server's) was answered 200."""
        admin = basic("admin", "admin")
        assert post(admin, {"token": world.token}, address=OTHER)[0] == "200 OK"  # now a cached caller
        block()
        assert post(basic("intruder", "wrong"))[0].startswith("429")  # by Django, then kept
        seen = len(django_saw)
        assert post(admin, {"token": world.token})[0].startswith("429")
        assert post(basic("viewer", "viewer-pw"), {"token": world.token})[0].startswith("429")
        assert len(django_saw) == seen  # both refused by the layer
        assert post(admin, {"token": world.token}, path="/t/carbon.super/oauth2/introspect")[0].startswith(
            "429"
        )
        assert len(django_saw) == seen + 1  # a path the layer has no refusal for: by Django
        status, _, body = post(admin, {"token": world.token}, address=OTHER)
        assert (status, json.loads(body)["active"]) == ("200 OK", True)  # from another address

    @pytest.mark.parametrize("lock_identity", [False, True], ids=["per identity and address", "lock"])
    def test_a_known_callers_right_password_is_refused_once_its_identity_is_blocked(
        self, world, deployment_override, lock_identity
    ):
        """Past ``per_identity`` failures of one identity (from one address; from any with
        ``lock_identity``) its right password is refused too, a cached caller's included (SPEC
        §11). Regression: a cached caller skipped the identity's limit, and refused attempts are
        not counted, so an address could guess a credential in use for ever, free: each wrong
        guess a 429, the right one a 200."""
        throttled = ThrottleConfig(per_identity=2, per_address=100, lock_identity=lock_identity)
        deployment_override(throttle=throttled, resource=configured(EVERY_HANDLER).resource)
        admin, guess = basic("admin", "admin"), basic("admin", "wrong")
        assert post(admin, {"token": world.token}, address=OTHER)[0] == "200 OK"  # now a cached caller
        for _ in range(2):
            assert post(guess, {"token": world.token})[0].startswith("401")
        assert post(guess, {"token": world.token})[0].startswith("429")
        assert post(admin, {"token": world.token})[0].startswith("429")
        # Another request (not a replay of the first) from the caller's own address.
        status = post(admin, {"token": world.token, "token_type_hint": "access_token"}, address=OTHER)[0]
        assert status.startswith("429") if lock_identity else status == "200 OK"

    # A change to the request or the configuration: (how, the answer Django gives).
    CASES = {
        "no credential": (dict(auth=None), "401"),
        "not UTF-8": (dict(body=b"token=\xff"), "400"),
        "another charset": (dict(content_type=FORM + "; charset=utf-16"), "400"),
        "a NUL": (dict(body=b"token=%00"), "400"),
        "too many fields": (dict(body=b"a&" * 1001), "400"),  # small enough for the layer to read
        "multipart": (dict(content_type="multipart/form-data; boundary=B", body=b"--B--\r\n"), "429"),
        "an unknown tenant": (dict(path="/t/nosuch.org/oauth2/introspect"), "404"),
        "an empty Host": (dict(HTTP_HOST=""), "400"),  # the kept refusal's request had none
        "throttling disabled": (dict(throttle=ThrottleConfig(enabled=False)), "401"),
        "observability disabled": (dict(observability=False), "429"),
    }

    @pytest.mark.parametrize("case", list(CASES))
    def test_left_to_django(self, world, limits, django_saw, deployment_override, case):
        how, expected = dict(self.CASES[case][0]), self.CASES[case][1]
        block()
        assert post(basic("intruder", "wrong"))[0].startswith(
            "429"
        )  # Django's, kept: the layer's from now on
        if "throttle" in how:
            deployment_override(throttle=how.pop("throttle"))
        if "observability" in how:
            observability = dataclasses.replace(
                settings.DEPLOYMENT.observability, enabled=how.pop("observability")
            )
            deployment_override(observability=observability)
        seen = len(django_saw)
        how.setdefault("auth", basic("intruder", "wrong"))
        status, _, _ = post(how.pop("auth"), **how)
        assert status[:3] == expected
        assert len(django_saw) == seen + 1

    def test_a_body_over_max_body_bytes(self, world, limits, django_saw, deployment_override):
        """A body over ``[server] max_body_bytes`` (set under the layer's 4 KiB): Django's 413.
        Regression: the layer read any body up to 4 KiB, so it answered 429 where Django
        answers 413 before anything else."""
        block()
        assert post(basic("intruder", "wrong"))[0].startswith("429")  # Django's, kept
        server = dataclasses.replace(settings.DEPLOYMENT.server, max_body_bytes=64)
        deployment_override(server=server)
        assert post(basic("intruder", "wrong"))[0].startswith("429")  # Django's, kept again
        seen = len(django_saw)
        status, _, _ = post(basic("intruder", "wrong"), {"token": "x" * 100})
        assert (status[:3], len(django_saw)) == ("413", seen + 1)

    def test_a_tenant_deactivated_since(self, world, limits, django_saw):
        """The kept refusal is dropped with the tenant it was read for: Django answers 404."""
        block(ENDPOINT[FOO])
        post(basic("intruder", "wrong"), path=ENDPOINT[FOO])
        assert post(basic("intruder", "wrong"), path=ENDPOINT[FOO])[0].startswith("429")
        seen = len(django_saw)
        tenant_services.deactivate_tenant(world.tenants[FOO], actor="test")
        assert post(basic("intruder", "wrong"), path=ENDPOINT[FOO])[0].startswith("404")
        assert len(django_saw) == seen + 1


def _forget_by_max_age(monkeypatch, deployment_override) -> None:
    """Let the cache's clock pass ``[cache] max_age``: every entry it keeps ages out."""
    later = time.monotonic() + settings.DEPLOYMENT.cache.max_age + 1
    monkeypatch.setattr(cache_module, "time", SimpleNamespace(monotonic=lambda: later, time=time.time))


def _forget_by_a_flood(monkeypatch, deployment_override) -> None:
    """Look up more unknown tenants than ``[cache] max_entries``: each is kept (cached as unknown)."""
    deployment_override(cache=dataclasses.replace(settings.DEPLOYMENT.cache, max_entries=100))
    for number in range(150):
        assert post(None, path=f"/t/flood-{number}.org/oauth2/introspect", address=OTHER)[0].startswith("404")


class TestABlockIsKeptToItsEnd:
    """A block a process found is kept until its window ends, whatever else the cache holds."""

    @pytest.mark.parametrize("forget", [_forget_by_max_age, _forget_by_a_flood], ids=["max_age", "flood"])
    @pytest.mark.parametrize("blocked", ["per_address", "per_identity"])
    def test_a_known_callers_right_password_stays_refused(
        self, world, deployment_override, monkeypatch, forget, blocked
    ):
        """Regression: blocks were cache entries, so ``[cache] max_age`` (shorter than the window)
        or a flood of ``max_entries`` other lookups pushed them out, and a cached caller's right
        password from the blocked address was answered 200 until a wrong guess read the counters
        again: one guess through per ``max_age``, or per flood."""
        per_address, per_identity = (2, 100) if blocked == "per_address" else (100, 2)
        throttled = ThrottleConfig(per_identity=per_identity, per_address=per_address, window=3600)
        deployment_override(throttle=throttled, resource=configured(EVERY_HANDLER).resource)
        admin, guess = basic("admin", "admin"), basic("admin", "wrong")
        assert post(admin, {"token": world.token}, address=OTHER)[0] == "200 OK"  # now a cached caller
        for _ in range(2):
            assert post(guess, {"token": world.token})[0].startswith("401")
        assert post(guess, {"token": world.token})[0].startswith("429")  # the block is found
        forget(monkeypatch, deployment_override)
        # The resource server, from its own address, has its credential verified and cached again.
        assert post(admin, {"token": world.token, "token_type_hint": "access_token"}, address=OTHER)[0] == (
            "200 OK"
        )
        status, headers, _ = post(admin, {"token": world.token})
        assert status.startswith("429")
        assert 3500 < int(headers["Retry-After"]) <= 3600

    def test_the_change_bus_does_not_drop_it(self, world, limits):
        """No row change shortens a block: neither a change naming everything nor a listener's
        reconnection (it may have missed changes) drops it; a new process starts without it."""
        block()
        assert post(basic("intruder", "wrong"))[0].startswith("429")  # found by Django
        cache_module.cache.invalidate([cache_module.EVERYTHING])
        cache_module.cache.clear(pins=False)
        assert throttle.blocked_for(ATTACKER) is not None
        cache_module.cache.clear()
        assert throttle.blocked_for(ATTACKER) is None

    def test_blocks_are_bounded_those_ending_soonest_out_first(self, deployment_override):
        deployment_override(cache=dataclasses.replace(settings.DEPLOYMENT.cache, max_entries=100))
        pins, now = cache_module.cache, time.time()
        pins.pin("ended", now - 1)
        for number in range(100):
            pins.pin(number, now + 1000 + number)
        assert pins.pinned("ended") is None and pins.pinned(0) is not None
        pins.pin("last", now + 5000)
        assert pins.pinned(0) is None
        assert pins.pinned(1) == now + 1001 and pins.pinned("last") == now + 5000
