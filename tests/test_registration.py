"""Dynamic client registration (RFC 7591) and its management (RFC 7592), docs/api.md."""

from __future__ import annotations

import dataclasses
import json

import pytest
from django.conf import settings

from identity.models import Client
from identity.models.tokens import token_checksum
from identity.services.clients import deactivate_client
from tests.support.api import admin_of, mgmt_bearer
from tests.support.auth import basic_auth
from tests.support.oauth import token_request
from tests.support.worlds import api_world

REGISTER = "/t/foo.com/oauth2/register"
METADATA = {
    "client_name": "Robot",
    "grant_types": ["client_credentials"],
    "scope": "test1 test2",
    "token_endpoint_auth_method": "client_secret_basic",
}
WEB = {"client_name": "Web", "redirect_uris": ["https://app.example/cb"], "token_format": "jwt"}


pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def world(build_once):
    return build_once(api_world)


@pytest.fixture
def open_registration(deployment_override):
    oauth = settings.DEPLOYMENT.oauth
    deployment_override(
        oauth=dataclasses.replace(oauth, dcr=dataclasses.replace(oauth.dcr, open_registration=True))
    )


def register(http, body, headers=None, path=REGISTER):
    return http.post(
        path, json.dumps(body), content_type="application/json", secure=True, headers=headers or {}
    )


def error_of(response, status: int = 400) -> str:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    return response.json()["error"]


class TestRegister:
    def test_a_client_registered_gets_a_token_that_introspects(self, client, world):
        response = register(client, METADATA, admin_of("foo.com"))
        assert response.status_code == 201, response.content
        body = response.json()
        assert body["client_secret_expires_at"] == 0 and body["client_id_issued_at"] > 0
        assert (
            body["registration_client_uri"]
            == f"https://localhost:9443/t/foo.com/oauth2/register/{body['client_id']}"
        )
        assert {body[k] for k in ("client_name", "scope", "token_endpoint_auth_method")} == {
            "Robot",
            "test1 test2",
            "client_secret_basic",
        }
        token = token_request(
            client,
            "/t/foo.com/oauth2/token",
            {"grant_type": "client_credentials", "scope": "test1"},
            (body["client_id"], body["client_secret"]),
        )
        assert token.status_code == 200, token.content
        introspected = client.post(
            "/t/foo.com/oauth2/introspect",
            {"token": token.json()["access_token"]},
            secure=True,
            headers=admin_of("foo.com"),
        )
        assert introspected.json()["active"] is True
        assert introspected.json()["client_id"] == body["client_id"]

    def test_the_registration_token_is_stored_as_a_digest(self, client, world):
        body = register(client, METADATA, admin_of("foo.com")).json()
        stored = Client.objects.for_tenant(world.foo).get(client_id=body["client_id"])
        assert stored.registration_access_token_digest == token_checksum(body["registration_access_token"])

    def test_defaults_are_those_of_rfc_7591(self, client, world):
        """No grant_types means authorization_code, no response_types means code (RFC 7591 §2)."""
        body = register(client, WEB, admin_of("foo.com")).json()
        assert body["grant_types"] == ["authorization_code"] and body["response_types"] == ["code"]
        assert body["token_format"] == "jwt"

    def test_a_public_client_has_no_secret(self, client, world):
        public = {**WEB, "token_endpoint_auth_method": "none"}
        body = register(client, public, admin_of("foo.com")).json()
        assert "client_secret" not in body and "client_secret_expires_at" not in body
        assert Client.objects.for_tenant(world.foo).get(client_id=body["client_id"]).client_type == "public"

    def test_a_bearer_token_with_the_create_scope_registers(self, client, world):
        headers = mgmt_bearer(client, "foo.com", scope="internal_application_mgt_create")
        assert register(client, METADATA, headers).status_code == 201

    def test_registration_is_listed_in_discovery(self, client, world):
        document = client.get("/t/foo.com/.well-known/openid-configuration", secure=True).json()
        assert document["registration_endpoint"] == "https://localhost:9443/t/foo.com/oauth2/register"


# metadata sent -> the RFC 7591 §3.2.2 error
INVALID = [
    ({**WEB, "redirect_uris": ["http://app.example/cb"]}, "invalid_redirect_uri"),
    ({**WEB, "redirect_uris": ["https://app.example/cb#frag"]}, "invalid_redirect_uri"),
    ({**WEB, "redirect_uris": ["/relative"]}, "invalid_redirect_uri"),
    ({**WEB, "redirect_uris": ["custom:/cb"]}, "invalid_redirect_uri"),
    ({**WEB, "redirect_uris": []}, "invalid_redirect_uri"),
    ({**METADATA, "grant_types": ["implicit"]}, "invalid_client_metadata"),
    ({**WEB, "response_types": ["token"]}, "invalid_client_metadata"),
    ({**METADATA, "response_types": ["code"]}, "invalid_client_metadata"),
    ({**METADATA, "token_endpoint_auth_method": "private_key_jwt"}, "invalid_client_metadata"),
    ({**METADATA, "token_endpoint_auth_method": "none"}, "invalid_client_metadata"),
    ({**METADATA, "token_format": "paseto"}, "invalid_client_metadata"),
    ({**METADATA, "grant_types": "client_credentials"}, "invalid_client_metadata"),
    (["not", "an", "object"], "invalid_client_metadata"),
]


@pytest.mark.parametrize(("metadata", "error"), INVALID)
def test_invalid_metadata_is_refused(client, world, metadata, error):
    assert error_of(register(client, metadata, admin_of("foo.com"))) == error


@pytest.mark.parametrize(
    ("charset", "body"),
    [
        ("utf-16", json.dumps(METADATA).encode("utf-16")),
        ("latin-1", json.dumps({**METADATA, "client_name": "R\u00e9"}, ensure_ascii=False).encode("latin-1")),
        ("utf-8", json.dumps({**METADATA, "client_name": "R\u00e9"}, ensure_ascii=False).encode("latin-1")),
    ],
    ids=["utf-16", "latin-1", "not-utf-8"],
)
def test_the_body_must_be_utf8_json(client, world, charset, body):
    """Regression: metadata declared utf-16 or latin-1 was decoded as declared and the client
    registered; JSON between systems is UTF-8 (RFC 8259 §8.1)."""
    before = Client.objects.for_tenant(world.foo).count()
    response = client.generic(
        "POST",
        REGISTER,
        body,
        content_type=f"application/json; charset={charset}",
        secure=True,
        headers=admin_of("foo.com"),
    )
    assert error_of(response) == "invalid_client_metadata"
    assert Client.objects.for_tenant(world.foo).count() == before


@pytest.mark.parametrize(
    "uri",
    ["http://localhost:8080/cb", "http://127.0.0.1/cb", "http://[::1]:3000/cb", "https://a.example/x?y=1"],
)
def test_loopback_http_and_https_redirect_uris_are_accepted(client, world, uri):
    assert register(client, {**WEB, "redirect_uris": [uri]}, admin_of("foo.com")).status_code == 201


class TestWhoMayRegister:
    @pytest.mark.parametrize(
        ("headers", "status"),
        [
            ({}, 401),
            (basic_auth("viewer@foo.com", "viewer-pw"), 403),
            (basic_auth("admin@foo.com", "wrong"), 401),
            (admin_of("bar.com"), 401),  # a valid caller of another tenant fails like a wrong one
        ],
    )
    def test_callers_without_the_create_permission_are_refused(self, client, world, headers, status):
        response = register(client, METADATA, headers)
        assert error_of(response, status) in ("invalid_token", "insufficient_scope")
        assert not Client.objects.for_tenant(world.foo).filter(name="Robot").exists()

    def test_a_token_without_the_create_scope_is_refused(self, client, world):
        headers = mgmt_bearer(client, "foo.com", scope="internal_application_mgt_view")
        assert error_of(register(client, METADATA, headers), 403) == "insufficient_scope"

    def test_open_registration_needs_no_caller_and_gives_no_owner(self, client, world, open_registration):
        body = register(client, METADATA).json()
        assert Client.objects.for_tenant(world.foo).get(client_id=body["client_id"]).user is None

    def test_a_token_registers_only_the_internal_scopes_it_carries(self, client, world):
        """The registered client is owned by the token's user: allowed internal_user_mgt_view, it
        gave a token limited to internal_application_mgt_create user management."""
        headers = mgmt_bearer(client, "foo.com", scope="internal_application_mgt_create")
        response = register(client, {**METADATA, "scope": "internal_user_mgt_view"}, headers)
        assert error_of(response) == "invalid_client_metadata"
        assert not Client.objects.for_tenant(world.foo).filter(name="Robot").exists()

    def test_open_registration_gives_a_caller_of_another_tenant_no_owner_here(
        self, client, world, open_registration
    ):
        """``admin@bar.com`` registering at foo.com made a client owned by foo.com's ``admin``
        (the caller's name, looked up in the path's tenant): its tokens were foo.com's admin's."""
        body = {**METADATA, "scope": "internal_user_mgt_create"}
        created = register(client, body, admin_of("bar.com"))
        assert created.status_code == 201, created.content
        registered = Client.objects.for_tenant(world.foo).get(client_id=created.json()["client_id"])
        assert registered.user is None
        credentials = (created.json()["client_id"], created.json()["client_secret"])
        data = {"grant_type": "client_credentials", "scope": "internal_user_mgt_create"}
        token = token_request(client, "/t/foo.com/oauth2/token", data, credentials)
        assert token.status_code == 200 and "scope" not in token.json()


class TestManage:
    """RFC 7592 §2 at the registration_client_uri, with the registration access token."""

    @pytest.fixture
    def registered(self, client, world):
        body = register(client, WEB, admin_of("foo.com")).json()
        uri = body["registration_client_uri"].removeprefix("https://localhost:9443")
        return body, uri, {"Authorization": "Bearer " + body["registration_access_token"]}

    def test_read_shows_the_metadata_but_not_the_secret(self, client, registered):
        body, uri, headers = registered
        shown = client.get(uri, secure=True, headers=headers)
        assert shown.status_code == 200 and shown.json()["client_id"] == body["client_id"]
        assert "client_secret" not in shown.json() and "registration_access_token" not in shown.json()

    def test_update_replaces_the_metadata(self, client, world, registered):
        body, uri, headers = registered
        new = {**WEB, "client_id": body["client_id"], "redirect_uris": ["https://new.example/cb"]}
        response = client.put(
            uri, json.dumps(new), content_type="application/json", secure=True, headers=headers
        )
        assert response.status_code == 200, response.content
        stored = Client.objects.for_tenant(world.foo).get(client_id=body["client_id"])
        assert stored.redirect_uris == "https://new.example/cb"

    def test_update_adds_no_internal_scope(self, client, world, registered):
        """The registration access token carries no scope: through it, a client registered by a
        narrow token would have been allowed any internal scope of its owner."""
        body, uri, headers = registered
        new = {**WEB, "client_id": body["client_id"], "scope": "internal_user_mgt_view"}
        response = client.put(
            uri, json.dumps(new), content_type="application/json", secure=True, headers=headers
        )
        assert error_of(response) == "invalid_client_metadata"
        assert Client.objects.for_tenant(world.foo).get(client_id=body["client_id"]).allowed_scopes == []

    def test_update_refuses_a_fragment(self, client, registered):
        body, uri, headers = registered
        new = {**WEB, "client_id": body["client_id"], "redirect_uris": ["https://new.example/cb#x"]}
        response = client.put(
            uri, json.dumps(new), content_type="application/json", secure=True, headers=headers
        )
        assert error_of(response) == "invalid_redirect_uri"

    def test_update_refuses_another_client_id(self, client, registered):
        _, uri, headers = registered
        new = {**WEB, "client_id": "other"}
        response = client.put(
            uri, json.dumps(new), content_type="application/json", secure=True, headers=headers
        )
        assert error_of(response) == "invalid_client_metadata"

    def test_delete_removes_the_client_and_its_registration(self, client, world, registered):
        body, uri, headers = registered
        assert client.delete(uri, secure=True, headers=headers).status_code == 204
        assert not Client.objects.for_tenant(world.foo).filter(client_id=body["client_id"]).exists()
        assert error_of(client.get(uri, secure=True, headers=headers), 401) == "invalid_token"

    @pytest.mark.parametrize("method", ["get", "put", "delete"])
    def test_a_deactivated_client_is_not_managed_with_its_token(self, client, world, registered, method):
        """Regression: the registration access token of a client its admin had deactivated still
        read, changed (redirect URIs, grants, scopes) or deleted it; a deactivated client
        authenticates nowhere."""
        body, uri, headers = registered
        deactivate_client(Client.objects.for_tenant(world.foo).get(client_id=body["client_id"]), actor="test")
        new = {**WEB, "client_id": body["client_id"], "redirect_uris": ["https://new.example/cb"]}
        response = client.generic(
            method.upper(),
            uri,
            json.dumps(new),
            content_type="application/json",
            secure=True,
            headers=headers,
        )
        assert error_of(response, 401) == "invalid_token"
        stored = Client.objects.for_tenant(world.foo).get(client_id=body["client_id"])
        assert stored.redirect_uris == "https://app.example/cb"

    def test_a_client_of_the_api_has_no_registration_to_manage(self, client, world):
        """A client not registered by DCR has no registration token: every bearer value fails."""
        response = client.get(
            "/t/foo.com/oauth2/register/mgmt", secure=True, headers={"Authorization": "Bearer "}
        )
        assert error_of(response, 401) == "invalid_token"

    @pytest.mark.parametrize("token", ["wrong", ""])
    def test_a_wrong_registration_token_is_401(self, client, registered, token):
        _, uri, _ = registered
        response = client.get(uri, secure=True, headers={"Authorization": f"Bearer {token}"})
        assert error_of(response, 401) == "invalid_token"

    def test_wrong_registration_tokens_are_throttled(self, client, registered, deployment_override):
        """Failed registration tokens count as failed authentications: past the limit, 429 with
        Retry-After; the limit is the token's, so the right token still opens it (docs/security.md)."""
        _, uri, headers = registered
        limits = dataclasses.replace(settings.DEPLOYMENT.throttle, per_identity=3, per_address=100)
        deployment_override(throttle=limits)
        wrong = {"Authorization": "Bearer wrong-registration-token"}
        assert [client.get(uri, secure=True, headers=wrong).status_code for _ in range(4)] == [401] * 3 + [
            429
        ]
        refused = client.get(uri, secure=True, headers=wrong)
        assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
        assert client.get(uri, secure=True, headers=headers).status_code == 200  # another identity

    def test_the_token_of_one_client_does_not_open_another(self, client, registered):
        _, _, headers = registered
        other = register(client, WEB, admin_of("foo.com")).json()
        uri = other["registration_client_uri"].removeprefix("https://localhost:9443")
        first_token_on_other = client.get(uri, secure=True, headers=headers)
        assert error_of(first_token_on_other, 401) == "invalid_token"

    def test_the_registration_is_not_found_at_another_tenant(self, client, registered):
        body, _, headers = registered
        response = client.get(f"/t/bar.com/oauth2/register/{body['client_id']}", secure=True, headers=headers)
        assert error_of(response, 401) == "invalid_token"
