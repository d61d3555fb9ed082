"""The resource access control engine: ``[[resource.access_control]]`` of deployment.toml
(docs/deployment-toml.md)."""

from __future__ import annotations

import dataclasses
import json

import pytest
from django.conf import settings
from django.http import HttpResponse
from django.test import RequestFactory

from deployment import DEFAULT_AUTH_HANDLERS, ResourceConfig, ServerConfig, loads
from tenants.access_control import (
    allowed_auth_handlers,
    caller_tenant_allowed,
    match_entry,
    request_is_secure,
)
from tenants.middleware import AccessControlMiddleware
from tenants.models import Tenant

# The WSO2 document's entry for the introspection endpoint.
WSO2_INTROSPECT = """
[[resource.access_control]]
context = "(.*)/oauth2/introspect(.*)"
secure = true
http_method = "all"
allowed_auth_handlers = "BasicAuthentication,BasicClientAuthentication"
cross_tenant = true
"""


def entries(toml: str):
    """Return the access-control entries that ``toml`` configures."""
    return loads(toml + '\n[super_admin]\npassword = "pw"\n').resource.access_control


def entry(context: str, **keys: str) -> object:
    """Return one entry: ``context`` and other keys given as TOML literals."""
    lines = "".join(f"{key} = {value}\n" for key, value in keys.items())
    (only,) = entries(f"[[resource.access_control]]\ncontext = '{context}'\n{lines}")
    return only


@pytest.fixture
def access_control(deployment_override):
    """Return a function that makes ``toml``'s entries the running configuration."""

    def apply(toml: str):
        return deployment_override(resource=ResourceConfig(access_control=entries(toml)))

    return apply


class TestMatching:
    """``context`` is a case-insensitive regex over the whole path, /t/<tenant> included."""

    @pytest.mark.parametrize(
        ("context", "path", "matches"),
        [
            # The WSO2 document's entry, at the super tenant and at a tenant.
            ("(.*)/oauth2/introspect(.*)", "/oauth2/introspect", True),
            ("(.*)/oauth2/introspect(.*)", "/t/foo.com/oauth2/introspect", True),
            ("(.*)/oauth2/introspect(.*)", "/t/foo.com/oauth2/introspect/", True),
            ("(.*)/oauth2/introspect(.*)", "/t/foo.com/oauth2/token", False),
            # Case-insensitive.
            ("(.*)/oauth2/introspect(.*)", "/OAuth2/INTROSPECT", True),
            ("/T/FOO\\.COM/health", "/t/foo.com/health", True),
            # A full match, not a search.
            ("/oauth2/introspect", "/oauth2/introspect", True),
            ("/oauth2/introspect", "/t/foo.com/oauth2/introspect", False),
            ("/oauth2/introspect", "/oauth2/introspect/x", False),
            ("introspect", "/oauth2/introspect", False),
            ("/oauth2/introspect", "/oauth2/introspect\n", False),
            # The tenant is part of the path the regex sees.
            ("/t/foo\\.com/(.*)", "/t/foo.com/oauth2/introspect", True),
            ("/t/foo\\.com/(.*)", "/t/bar.com/oauth2/introspect", False),
            ("/t/foo\\.com/(.*)", "/oauth2/introspect", False),
        ],
    )
    def test_context(self, context, path, matches):
        assert entry(context).matches(path, "POST") is matches

    @pytest.mark.parametrize(
        ("http_method", "method", "matches"),
        [
            ('"all"', "GET", True),
            ('"all"', "DELETE", True),
            ('"POST"', "POST", True),
            ('"POST"', "GET", False),
            ('"POST"', "post", True),
            ('"GET,POST"', "GET", True),
            ('"GET,POST"', "PUT", False),
            ('["GET", "POST"]', "POST", True),
            ('["GET", "POST"]', "HEAD", False),
            # Regression: a lower-case method in the file passed validation but never matched.
            ('"post"', "POST", True),
            ('["get", "Post"]', "POST", True),
        ],
    )
    def test_http_method(self, http_method, method, matches):
        assert entry("/x", http_method=http_method).matches("/x", method) is matches

    def test_first_matching_entry_wins(self, access_control):
        access_control(
            "[[resource.access_control]]\ncontext = '/oauth2/token'\nsecure = false\n"
            "[[resource.access_control]]\ncontext = '(.*)/oauth2/(.*)'\nhttp_method = 'GET'\n"
            "allowed_auth_handlers = 'OAuthAuthentication'\n"
            "[[resource.access_control]]\ncontext = '(.*)'\n"
            "allowed_auth_handlers = 'BasicClientAuthentication'\n"
        )
        lines = {
            ("/oauth2/token", "POST"): 1,
            ("/oauth2/introspect", "GET"): 4,
            ("/t/foo.com/oauth2/introspect", "GET"): 4,
            ("/oauth2/introspect", "POST"): 8,
            ("/health", "GET"): 8,
        }
        for (path, method), line in lines.items():
            assert match_entry(path, method).line == line, (path, method)

    def test_no_entries_match_nothing(self, access_control):
        access_control("")
        assert match_entry("/oauth2/introspect", "POST") is None


class TestAuthHandlers:
    @pytest.mark.parametrize(
        ("literal", "handlers"),
        [
            (
                '"BasicAuthentication,BasicClientAuthentication"',
                ("BasicAuthentication", "BasicClientAuthentication"),
            ),
            ('"OAuthAuthentication"', ("OAuthAuthentication",)),
            ('["BasicClientAuthentication"]', ("BasicClientAuthentication",)),
        ],
    )
    def test_from_the_entry(self, literal, handlers):
        assert allowed_auth_handlers(entry("/x", allowed_auth_handlers=literal)) == handlers

    def test_entry_default(self):
        assert allowed_auth_handlers(entry("/x")) == ("BasicAuthentication", "OAuthAuthentication")

    def test_no_entry_means_basic_and_oauth(self):
        """docs/introspection.md#callers: with no matching entry, BasicAuthentication and
        OAuthAuthentication."""
        assert allowed_auth_handlers(None) == DEFAULT_AUTH_HANDLERS
        assert DEFAULT_AUTH_HANDLERS == ("BasicAuthentication", "OAuthAuthentication")


class TestCrossTenant:
    """Gate 1: the caller's tenant against the path's (docs/introspection.md#the-gates)."""

    ENTRIES = {
        "none": None,
        "not cross": "",
        "cross, any tenant": "cross_tenant = true\n",
        "cross, listed": "cross_tenant = true\ncross_access_allowed_tenants = 'carbon.super, bar.com'\n",
        "listed but not cross": "cross_access_allowed_tenants = 'carbon.super'\n",
    }

    @pytest.mark.parametrize(
        ("entry_name", "caller", "path_tenant", "allowed"),
        [
            ("none", "foo.com", "foo.com", True),
            ("none", "carbon.super", "foo.com", False),
            ("not cross", "foo.com", "foo.com", True),
            ("not cross", "carbon.super", "foo.com", False),
            ("cross, any tenant", "carbon.super", "foo.com", True),
            ("cross, any tenant", "bar.com", "foo.com", True),
            ("cross, listed", "carbon.super", "foo.com", True),
            ("cross, listed", "bar.com", "foo.com", True),
            ("cross, listed", "baz.com", "foo.com", False),
            ("cross, listed", "baz.com", "baz.com", True),
            ("listed but not cross", "carbon.super", "foo.com", False),
        ],
    )
    def test_caller_tenant_allowed(self, entry_name, caller, path_tenant, allowed):
        keys = self.ENTRIES[entry_name]
        governing = None
        if keys is not None:
            (governing,) = entries(f"[[resource.access_control]]\ncontext = '(.*)'\n{keys}")
        assert caller_tenant_allowed(governing, caller, path_tenant) is allowed

    def test_the_wso2_entry_lets_any_tenant_in(self):
        (wso2,) = entries(WSO2_INTROSPECT)
        assert caller_tenant_allowed(wso2, "carbon.super", "foo.com")
        assert caller_tenant_allowed(wso2, "foo.com", "bar.com")


class TestRequestIsSecure:
    """``secure = true`` accepts TLS, or plain HTTP from a trusted proxy that saw TLS."""

    @pytest.mark.parametrize(
        ("tls", "remote_addr", "forwarded_proto", "secure"),
        [
            (True, "203.0.113.9", None, True),
            (False, "203.0.113.9", None, False),
            (False, "10.0.0.1", "https", True),
            (False, "10.0.0.1", "HTTPS", True),
            (False, "10.0.0.1", "http", False),
            (False, "10.0.0.1", None, False),
            (False, "203.0.113.9", "https", False),  # anyone can send the header
            (False, "10.0.0.10", "https", False),  # an address, not a prefix
        ],
    )
    def test_request_is_secure(self, deployment_override, tls, remote_addr, forwarded_proto, secure):
        deployment_override(
            server=dataclasses.replace(settings.DEPLOYMENT.server, trusted_proxies=("10.0.0.1",))
        )
        headers = {"HTTP_X_FORWARDED_PROTO": forwarded_proto} if forwarded_proto else {}
        request = RequestFactory().get("/oauth2/introspect", secure=tls, REMOTE_ADDR=remote_addr, **headers)
        assert request_is_secure(request) is secure

    def test_no_trusted_proxies_by_default(self):
        assert ServerConfig().trusted_proxies == ()
        request = RequestFactory().get("/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_PROTO="https")
        assert request_is_secure(request) is False


class TestAccessControlMiddleware:
    """The middleware finds the governing entry and refuses plain HTTP where it says secure."""

    @staticmethod
    def call(request):
        seen = {}

        def view(request):
            seen["entry"] = request.access_control
            return HttpResponse("ok")

        response = AccessControlMiddleware(view)(request)
        return response, seen

    def test_entry_is_put_on_the_request(self, access_control):
        access_control("[[resource.access_control]]\ncontext = '/health'\nsecure = false\n")
        response, seen = self.call(RequestFactory().get("/health"))
        assert response.status_code == 200
        assert seen["entry"].context == "/health"

    def test_query_string_is_not_part_of_the_path(self, access_control):
        access_control("[[resource.access_control]]\ncontext = '/health'\nsecure = false\n")
        _, seen = self.call(RequestFactory().get("/health?next=/admin/&x=1"))
        assert seen["entry"] is not None

    def test_no_entry_is_none(self, access_control):
        access_control("[[resource.access_control]]\ncontext = '/other'\nsecure = false\n")
        _, seen = self.call(RequestFactory().get("/health"))
        assert seen["entry"] is None

    def test_plain_http_refused_with_json_403(self, access_control):
        access_control("[[resource.access_control]]\ncontext = '/health'\n")
        response, seen = self.call(RequestFactory().get("/health"))
        assert seen == {}
        assert response.status_code == 403
        assert response["Content-Type"] == "application/json"
        assert response["Cache-Control"] == "no-store"
        assert json.loads(response.content)["error"] == "insecure_transport"

    @pytest.mark.parametrize(
        ("secure_key", "tls", "status"), [(True, False, 403), (True, True, 200), (False, False, 200)]
    )
    def test_secure_key(self, access_control, secure_key, tls, status):
        access_control(
            f"[[resource.access_control]]\ncontext = '/health'\nsecure = {str(secure_key).lower()}\n"
        )
        response, _ = self.call(RequestFactory().get("/health", secure=tls))
        assert response.status_code == status

    def test_through_a_trusted_tls_proxy(self, access_control, deployment_override):
        access_control("[[resource.access_control]]\ncontext = '/health'\n")
        deployment_override(
            server=dataclasses.replace(settings.DEPLOYMENT.server, trusted_proxies=("10.0.0.1",))
        )
        request = RequestFactory().get("/health", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_PROTO="https")
        response, _ = self.call(request)
        assert response.status_code == 200


@pytest.mark.django_db
class TestThroughTheStack:
    """With the real middleware order, access control sees the path with /t/<tenant>
    (docs/deployment-toml.md)."""

    @pytest.fixture(autouse=True)
    def tenants(self):
        Tenant.objects.create(domain=settings.DEPLOYMENT.tenant.super_tenant_domain)
        Tenant.objects.create(domain="foo.com")
        Tenant.objects.create(domain="bar.com")

    @pytest.mark.parametrize(
        ("path", "tls", "status"),
        [
            ("/t/foo.com/health", False, 403),
            ("/t/foo.com/health", True, 200),
            ("/t/foo.com/health?a=b", False, 403),
            ("/t/bar.com/health", False, 200),
            ("/health", False, 200),
        ],
    )
    def test_entry_for_one_tenant(self, client, access_control, path, tls, status):
        access_control("[[resource.access_control]]\ncontext = '/t/foo\\.com/health'\n")
        response = client.get(path, secure=tls)
        assert response.status_code == status
        if status == 403:
            assert response.json()["error"] == "insecure_transport"

    # path, status over plain HTTP, status over TLS: a rule for /health covers the super tenant
    # however the path names it, and no other tenant
    CANONICAL = [
        ("/health", 403, 200),
        ("/t/carbon.super/health", 403, 200),
        ("/t/CARBON.SUPER/health", 404, 404),  # domains are exact: no tenant, no rule to dodge
        ("/t/foo.com/health", 200, 200),
        ("/t/foo.com/t/carbon.super/health", 404, 404),
    ]

    @pytest.mark.parametrize(("path", "plain", "tls"), CANONICAL)
    def test_rules_match_the_canonical_path(self, client, access_control, path, plain, tls):
        """Finding 6: a rule for /health was skipped by asking /t/carbon.super/health."""
        access_control("[[resource.access_control]]\ncontext = '/health'\n")
        assert client.get(path).status_code == plain
        assert client.get(path, secure=True).status_code == tls
