"""The management API's ``clients`` resource (docs/api.md): create with the secret shown once,
read, filter, page, change, rotate the secret; errors as RFC 9457 problem details."""

from __future__ import annotations

import json

import pytest

from identity.models import Client
from identity.oauth.issuer import server_origin
from tests.support.api import admin_of, call, mgmt_bearer
from tests.support.audit import is_change
from tests.support.auth import basic_auth
from tests.support.oauth import token_request
from tests.support.worlds import api_world

NEW_CLIENT = {"name": "Reports", "grant_types": ["client_credentials"], "scopes": ["reports"]}


pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def world(build_once):
    return build_once(api_world)


def problem(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = json.loads(response.content)
    assert body["status"] == status and body["type"] and body["title"] and "detail" in body
    return body


class TestCreate:
    def test_the_secret_is_shown_once_and_works_at_the_token_endpoint(self, client, world):
        created = call(client, "POST", "foo.com", "clients", admin_of("foo.com"), NEW_CLIENT)
        assert created.status_code == 201, created.content
        body = created.json()
        assert body["client_secret"] and body["scopes"] == ["reports"] and body["owner"] == "admin"
        shown = call(client, "GET", "foo.com", f"clients/{body['client_id']}", admin_of("foo.com"))
        assert shown.status_code == 200 and "client_secret" not in shown.json()
        listed = call(client, "GET", "foo.com", "clients", admin_of("foo.com"))
        assert body["client_secret"] not in listed.content.decode()
        token = token_request(
            client,
            "/t/foo.com/oauth2/token",
            {"grant_type": "client_credentials", "scope": "reports"},
            (body["client_id"], body["client_secret"]),
        )
        assert token.status_code == 200 and token.json()["scope"] == "reports"

    def test_lifetimes_are_taken_at_creation(self, client, world):
        """Regression (found by fuzzing): a lifetime in the create body answered 500."""
        body = {**NEW_CLIENT, "access_token_lifetime": 120, "refresh_token_lifetime": None}
        created = call(client, "POST", "foo.com", "clients", admin_of("foo.com"), body)
        assert created.status_code == 201 and created.json()["access_token_lifetime"] == 120

    def test_the_secret_is_stored_hashed(self, client, world):
        body = call(client, "POST", "foo.com", "clients", admin_of("foo.com"), NEW_CLIENT).json()
        stored = Client.objects.for_tenant(world.foo).get(client_id=body["client_id"])
        assert stored.client_secret != body["client_secret"]

    def test_invalid_fields_are_named(self, client, world):
        bad = {"name": "x", "grant_types": ["implicit"], "redirect_uris": ["not a uri"]}
        body = problem(call(client, "POST", "foo.com", "clients", admin_of("foo.com"), bad), 400)
        names = {param["name"] for param in body["invalid-params"]}
        assert names == {"grant_types[0]", "redirect_uris[0]"}

    @pytest.mark.parametrize(
        ("uri", "status"),
        [
            ("https://app.example/cb", 201),
            ("http://127.0.0.1:8000/cb", 201),  # plain http to a loopback host only (RFC 8252 §7.3)
            ("http://app.example/cb", 400),
            ("https://app.example/cb#fragment", 400),  # RFC 6749 §3.1.2
            ("custom:/cb", 400),
        ],
    )
    def test_redirect_uris(self, client, world, uri, status):
        body = {"name": "web", "grant_types": ["authorization_code"], "redirect_uris": [uri]}
        response = call(client, "POST", "foo.com", "clients", admin_of("foo.com"), body)
        if status == 201:
            assert response.status_code == 201, response.content
        else:
            names = {param["name"] for param in problem(response, 400)["invalid-params"]}
            assert names & {"redirect_uris", "redirect_uris[0]"}

    def test_a_model_rule_is_a_problem_too(self, client, world):
        """The model's own checks (a public client without a secret cannot use client_credentials)."""
        bad = {"name": "x", "public": True, "grant_types": ["client_credentials"]}
        body = problem(call(client, "POST", "foo.com", "clients", admin_of("foo.com"), bad), 400)
        assert [param["name"] for param in body["invalid-params"]] == ["grant_types"]

    def test_a_taken_client_id_is_refused(self, client, world):
        taken = {**NEW_CLIENT, "client_id": "mgmt"}
        body = problem(call(client, "POST", "foo.com", "clients", admin_of("foo.com"), taken), 400)
        assert body["invalid-params"][0]["name"] == "client_id"

    def test_the_body_must_be_json(self, client, world):
        response = client.post(
            "/t/foo.com/api/v1/clients", {"name": "x"}, secure=True, headers=admin_of("foo.com")
        )
        problem(response, 415)


class TestReadAndChange:
    @pytest.mark.parametrize(
        ("charset", "body"),
        [
            ("utf-16", '{"name": "x", "grant_types": ["client_credentials"]}'.encode("utf-16")),
            ("latin-1", '{"name": "\u00e9", "grant_types": ["client_credentials"]}'.encode("latin-1")),
            ("utf-8", b'{"name": "\xff", "grant_types": ["client_credentials"]}'),
        ],
        ids=["utf-16", "latin-1", "not-utf-8"],
    )
    def test_the_body_must_be_utf8(self, client, world, charset, body):
        """Regression: a body declared utf-16 or latin-1 was decoded as declared and the client
        made; JSON between systems is UTF-8 (RFC 8259 §8.1), as at the form endpoints."""
        before = Client.objects.for_tenant(world.foo).count()
        response = client.generic(
            "POST",
            "/t/foo.com/api/v1/clients",
            body,
            content_type=f"application/json; charset={charset}",
            secure=True,
            headers=admin_of("foo.com"),
        )
        problem(response, 400)
        assert Client.objects.for_tenant(world.foo).count() == before

    def test_list_pages_with_limit_and_offset(self, client, world):
        first = call(client, "GET", "foo.com", "clients?limit=1", admin_of("foo.com")).json()
        second = call(client, "GET", "foo.com", "clients?limit=1&offset=1", admin_of("foo.com")).json()
        assert first["count"] == 2 and len(first["results"]) == 1 and first["next"]
        assert first["results"][0]["client_id"] != second["results"][0]["client_id"]

    def test_page_links_name_the_server_not_the_host_header(self, client, world):
        """Links name the server as issuers do ([server], or a trusted proxy's host), never the
        Host header anyone may write."""
        headers = {**admin_of("foo.com"), "Host": "evil.example"}
        first = call(client, "GET", "foo.com", "clients?limit=1", headers).json()
        second = call(client, "GET", "foo.com", "clients?limit=1&offset=1", headers).json()
        origin = server_origin()
        assert first["next"] == f"{origin}/t/foo.com/api/v1/clients?limit=1&offset=1"
        assert second["previous"] == f"{origin}/t/foo.com/api/v1/clients?limit=1"

    def test_list_filters_by_client_id(self, client, world):
        body = call(client, "GET", "foo.com", "clients?client_id=mgmt", admin_of("foo.com")).json()
        assert [c["client_id"] for c in body["results"]] == ["mgmt"]

    def test_patch_changes_only_what_is_sent(self, client, world):
        changed = call(
            client, "PATCH", "foo.com", "clients/mgmt", admin_of("foo.com"), {"token_format": "jwt"}
        )
        assert changed.status_code == 200, changed.content
        stored = Client.objects.for_tenant(world.foo).get(client_id="mgmt")
        assert stored.token_format == "jwt" and stored.grant_types == ["client_credentials", "password"]

    def test_patch_refuses_an_unknown_script(self, client, world):
        body = problem(
            call(client, "PATCH", "foo.com", "clients/mgmt", admin_of("foo.com"), {"scripts": ["nope"]}), 400
        )
        assert body["invalid-params"][0]["name"] == "scripts"

    def test_rotate_secret_shows_the_new_one_and_the_old_one_stops_working(self, client, world):
        rotated = call(client, "POST", "foo.com", "clients/mgmt/rotate-secret", admin_of("foo.com"))
        assert rotated.status_code == 200
        secret = rotated.json()["client_secret"]
        data = {"grant_type": "client_credentials"}
        path = "/t/foo.com/oauth2/token"
        assert token_request(client, path, data, ("mgmt", secret)).status_code == 200
        assert token_request(client, path, data, ("mgmt", "mgmt-secret-0123456789abcdef")).status_code == 401

    def test_an_answer_holding_a_secret_is_never_stored(self, client, world):
        """The creation and rotation answers hold the secret in clear: ``Cache-Control:
        no-store``, as the token endpoint's (RFC 6749 §5.1) and registration's (RFC 7591 §3.2.1).
        Before, a browser or a proxy cache could keep them."""
        created = call(client, "POST", "foo.com", "clients", admin_of("foo.com"), NEW_CLIENT)
        path = f"clients/{created.json()['client_id']}/rotate-secret"
        rotated = call(client, "POST", "foo.com", path, admin_of("foo.com"))
        assert (created.status_code, rotated.status_code) == (201, 200)
        assert created["Cache-Control"] == rotated["Cache-Control"] == "no-store"

    def test_an_unknown_client_is_404(self, client, world):
        problem(call(client, "GET", "foo.com", "clients/nope", admin_of("foo.com")), 404)

    def test_an_unsupported_method_is_405(self, client, world):
        problem(call(client, "PUT", "foo.com", "clients/mgmt", admin_of("foo.com"), {}), 405)

    def test_an_unknown_api_path_is_404_without_credentials(self, client, world):
        problem(call(client, "GET", "foo.com", "nothing/here", {}), 404)
        problem(client.get("/api/v2/clients", secure=True), 404)

    @pytest.mark.parametrize(
        ("accept", "status"),
        [
            ("text/html,application/xhtml+xml,*/*;q=0.8", 200),  # a browser's: JSON is acceptable
            ("text/html", 406),
            ("application/xml", 406),
        ],
    )
    def test_json_only_whatever_is_accepted(self, client, world, accept, status):
        """The API answers JSON only: no browsable HTML page, an RFC 9457 problem when the
        caller accepts no JSON."""
        response = call(client, "GET", "foo.com", "clients", {**admin_of("foo.com"), "Accept": accept})
        if status == 200:
            assert (response.status_code, response["Content-Type"]) == (200, "application/json")
        else:
            problem(response, status)
        browsable = client.get(
            "/t/foo.com/api/v1/clients?format=api", secure=True, headers=admin_of("foo.com")
        )
        problem(browsable, 404)


class TestAudit:
    def test_changes_are_recorded_with_the_actor_and_no_secret(self, client, world, caplog):
        caplog.set_level("INFO", logger="audit")
        headers = mgmt_bearer(client, "foo.com")
        body = call(client, "POST", "foo.com", "clients", headers, NEW_CLIENT).json()
        call(client, "POST", "foo.com", f"clients/{body['client_id']}/rotate-secret", headers)
        events = [
            (r.audit["event"], r.audit["actor"])
            for r in caplog.records
            if hasattr(r, "audit") and is_change(r.audit)
        ]
        assert events == [("client.created", "client:mgmt"), ("client.secret_rotated", "client:mgmt")]
        assert body["client_secret"] not in caplog.text
        assert headers["Authorization"].split()[1] not in caplog.text

    def test_a_basic_caller_is_recorded_by_its_qualified_name(self, client, world, caplog):
        caplog.set_level("INFO", logger="audit")
        call(client, "PATCH", "foo.com", "clients/mgmt", basic_auth("admin@foo.com", "admin"), {"name": "M"})
        [record] = [r for r in caplog.records if hasattr(r, "audit") and is_change(r.audit)]
        assert record.audit == {
            "event": "client.updated",
            "actor": "admin@foo.com",
            "tenant": "foo.com",
            "client_id": "mgmt",
            "fields": ["name"],
        }
