"""Concurrent writes through the admin and the management API, against two real instances (two
gunicorn workers each) on one database, SQLite or, with TEST_DATABASE_URL, PostgreSQL: no 5xx,
and what every worker answers afterwards is the last write (the change bus announced it), not a
state some cache kept.

Django's admin has no optimistic locking: of two edits of one row, the last to commit wins
(docs/security.md#races).
"""

from __future__ import annotations

import json
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

pytestmark = [pytest.mark.blackbox, pytest.mark.long(15)]

VIEW = "/permission/admin/manage/identity/applicationmgt/view"
CAROL = ("carol", "carol-password")
THREADS = 8  # half through each instance
EDITS = 3  # per thread
ROUNDS = 6  # races of the API's creations, each on a new name
SETTLE = 1.0  # seconds every worker has to agree with the database
FOO_PK = "SELECT id FROM tenants_tenant WHERE domain = 'foo.com'"


@pytest.fixture(scope="module")
def instances(server_factory):
    # Many sign-ins and polls from one address: not a flood for the throttle to stop.
    first = server_factory("[demo]\nenabled = true\n\n[throttle]\nper_identity = 1000\nper_address = 10000\n")
    first.manage(
        "createuser", "--tenant", "carbon.super", CAROL[0], "--password", CAROL[1], "--permission", VIEW
    )
    second = first.second_instance()
    second.start()
    yield first, second
    second.stop()


class AdminSession:
    """An operator signed in to one instance's admin, as a browser: cookies, CSRF token, Referer."""

    def __init__(self, server):
        self.server = server
        self.http = requests.Session()
        self.get("/admin/login/")
        response = self.post("/admin/login/", {"username": "admin", "password": "admin", "next": "/admin/"})
        assert response.status_code == 302, response.text

    def get(self, path: str) -> requests.Response:
        # verify on each request: requests lets REQUESTS_CA_BUNDLE override a session's verify
        return self.http.get(self.server.base_url + path, verify=self.server.cert, timeout=60)

    def post(self, path: str, data: dict) -> requests.Response:
        # Django takes the cookie's unmasked secret as the form's token too.
        data = {**data, "csrfmiddlewaretoken": self.http.cookies["csrftoken"]}
        url = self.server.base_url + path
        return self.http.post(
            url,
            data=data,
            headers={"Referer": url},
            allow_redirects=False,
            verify=self.server.cert,
            timeout=60,
        )


def stored(server, sql: str, *params):
    """The one value ``sql`` selects, read from the database itself: no worker's cache between."""
    ((value,),) = server.query(sql, *params)
    return value


def role_permissions(server, pk: int) -> list[str]:
    value = stored(server, "SELECT permissions FROM identity_role WHERE id = %s", pk)
    return json.loads(value) if isinstance(value, str) else value  # SQLite's text, PostgreSQL's jsonb


def carol_answers(server) -> int:
    """The status of an introspection with carol's credentials: 200 while her role grants VIEW."""
    response = server.post(
        "/oauth2/introspect", data={"token": "x"}, auth=CAROL, headers={"Connection": "close"}
    )
    return response.status_code


def every_worker_answers(instances, expected: int) -> bool:
    """Whether, within SETTLE seconds, eight fresh connections to each instance all answer ``expected``."""
    deadline = time.monotonic() + SETTLE
    while True:
        if all(carol_answers(server) == expected for server in instances for _ in range(8)):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)


def race(instances, attempt, session=AdminSession) -> list[requests.Response]:
    """Run ``attempt(session, thread index)`` in THREADS threads, half per instance, released
    together; ``session(server)`` prepares each thread's caller before the barrier."""
    sessions = [session(instances[index % 2]) for index in range(THREADS)]
    barrier = threading.Barrier(THREADS)

    def one(index: int):
        barrier.wait()
        return attempt(sessions[index], index)

    with ThreadPoolExecutor(THREADS) as pool:
        return [response for answers in pool.map(one, range(THREADS)) for response in answers]


def test_racing_edits_of_one_role_leave_every_worker_on_the_last_write(instances):
    role_pk = stored(instances[0], "SELECT id FROM identity_role WHERE name = %s", f"user:{CAROL[0]}")
    path = f"/admin/identity/role/{role_pk}/change/"
    assert every_worker_answers(instances, 200)  # every worker has carol cached, with VIEW

    def edits(session, index):
        answers = []
        for edit in range(EDITS):
            granted = [VIEW] if (index + edit) % 2 else []
            data = {"name": f"user:{CAROL[0]}", "known_permissions": granted, "other_permissions": ""}
            answers.append(session.post(path, data))
        return answers

    for _ in range(2):
        answers = race(instances, edits)
        assert [response.status_code for response in answers] == [302] * THREADS * EDITS
        holds = role_permissions(instances[0], role_pk)
        assert holds in ([], [VIEW])
        assert every_worker_answers(instances, 200 if VIEW in holds else 403), holds


def test_racing_additions_of_one_client_id_make_one_client_and_no_error(instances):
    """Both forms pass validation before either is saved: the second save meets the database's
    unique constraint, which must be a form error, never a 500."""

    def add(session, index):
        data = {
            "name": f"Racer {index}",
            "client_id": "racer",
            "client_type": "confidential",
            "grant_types": ["client_credentials"],
            "token_format": "opaque",
            "tenant": stored_tenant_pk,
        }
        return [session.post("/admin/identity/client/add/", data)]

    stored_tenant_pk = stored(instances[0], FOO_PK)
    answers = race(instances, add)
    statuses = [response.status_code for response in answers]
    assert all(status < 500 for status in statuses), [r.text[:500] for r in answers if r.status_code >= 500]
    made = [response for response in answers if 'id="client-secret"' in response.text]
    assert len(made) == 1
    assert stored(instances[0], "SELECT COUNT(*) FROM identity_client WHERE client_id = %s", "racer") == 1
    refused = [response for response in answers if response not in made]
    assert all(response.status_code == 200 and "errornote" in response.text for response in refused)


def test_racing_additions_of_one_role_name_make_one_role_and_no_error(instances):
    def add(session, index):
        data = {
            "tenant": stored_tenant_pk,
            "name": "racers",
            "known_permissions": [],
            "other_permissions": "",
        }
        return [session.post("/admin/identity/role/add/", data)]

    stored_tenant_pk = stored(instances[0], FOO_PK)
    answers = race(instances, add)
    statuses = sorted(response.status_code for response in answers)
    assert statuses == [200] * (THREADS - 1) + [302], [re.sub(r"\s+", " ", r.text)[:300] for r in answers]
    assert stored(instances[0], "SELECT COUNT(*) FROM identity_role WHERE name = %s", "racers") == 1


@pytest.mark.parametrize("resource", ["clients", "roles", "users"])
def test_racing_api_creations_of_one_name_make_one_row_and_no_error(instances, resource):
    """Regression: both requests passed the service's "already exists" check, and the second
    INSERT's IntegrityError answered 500 (PostgreSQL; about one race in five met it)."""

    def body(name: str) -> dict:
        return {
            "clients": {"name": name, "client_id": name, "grant_types": ["client_credentials"]},
            "roles": {"name": name, "permissions": []},
            "users": {"username": name, "password": "a-long-racer-password"},
        }[resource]

    def warmed(server):
        server.get(
            f"/api/v1/{resource}", auth=("admin", "admin")
        )  # the caller is cached: no hash in the race
        return server

    for round in range(ROUNDS):

        def create(server, index, name=f"racer{round}"):
            return [server.post(f"/api/v1/{resource}", json=body(name), auth=("admin", "admin"))]

        answers = race(instances, create, session=warmed)
        statuses = sorted(response.status_code for response in answers)
        assert statuses == [201] + [400] * (THREADS - 1), [r.text[:300] for r in answers]
        for response in answers:
            if response.status_code == 400:
                assert "already exists" in response.json()["invalid-params"][0]["reason"]
