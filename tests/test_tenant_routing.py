"""TenantMiddleware: /t/<tenant>/ routing, unknown tenants, the tenant cache (docs/architecture.md)."""

from __future__ import annotations

import dataclasses
import json
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.urls import get_script_prefix, reverse

from tenants.cache import cache
from tenants.models import Tenant

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def world(build_once):
    def make():
        return SimpleNamespace(
            super=Tenant.objects.create(domain=settings.DEPLOYMENT.tenant.super_tenant_domain),
            foo=Tenant.objects.create(domain="foo.com", name="Foo"),
            sleepy=Tenant.objects.create(domain="sleepy.org", active=False),
        )

    return build_once(make)


def body(response) -> dict:
    assert response["Content-Type"] == "application/json"
    return json.loads(response.content)


class TestRouting:
    """The super tenant at the root, every other tenant under /t/<domain>/."""

    @pytest.mark.parametrize(
        ("path", "tenant"),
        [
            ("/health", "carbon.super"),
            ("/health?x=1", "carbon.super"),
            ("/t/foo.com/health", "foo.com"),
            ("/t/foo.com/health?t=/t/bar.com/", "foo.com"),
            # WSO2 also answers the super tenant under /t/carbon.super/.
            ("/t/carbon.super/health", "carbon.super"),
        ],
    )
    def test_tenant_served(self, client, world, path, tenant):
        response = client.get(path)
        assert response.status_code == 200
        assert body(response) == {"status": "ok", "tenant": tenant}

    @pytest.mark.parametrize(
        ("path", "domain"),
        [
            ("/t/bar.com/health", "bar.com"),  # unknown
            ("/t/sleepy.org/health", "sleepy.org"),  # inactive
            ("/t/sleepy.org/admin/", "sleepy.org"),
            ("/t/bar.com/oauth2/introspect", "bar.com"),
        ],
    )
    def test_unknown_or_inactive_tenant_is_a_json_404_naming_it(self, client, world, path, domain):
        response = client.post(path)
        assert response.status_code == 404
        assert body(response)["tenant_domain"] == domain
        assert body(response)["error"] == "invalid_tenant"

    @pytest.mark.parametrize(
        ("path", "tenant"),
        [
            ("/health", "foo.com"),
            ("/t/foo.com/health", "foo.com"),
            ("/t/carbon.super/health", "carbon.super"),
        ],
    )
    def test_the_root_is_the_configured_super_tenant(self, client, world, deployment_override, path, tenant):
        """``[tenant] super_tenant_domain`` names the tenant at the root; carbon.super is then a tenant
        like any other, under /t/."""
        deployment_override(
            tenant=dataclasses.replace(settings.DEPLOYMENT.tenant, super_tenant_domain="foo.com")
        )
        response = client.get(path)
        assert (response.status_code, body(response)) == (200, {"status": "ok", "tenant": tenant})

    def test_the_tenant_is_on_the_request(self, client, world):
        response = client.get("/t/foo.com/health")
        assert response.wsgi_request.tenant == world.foo
        assert response.wsgi_request.path == "/t/foo.com/health"
        assert response.wsgi_request.path_info == "/health"


class TestOddPaths:
    """No path makes the middleware answer 500; a tenant it cannot find is a JSON 404."""

    @pytest.mark.parametrize(
        ("path", "domain"),
        [
            ("/t/", ""),
            ("/t//x", ""),
            ("/t//health", ""),
            ("/t/%2e%2e/health", ".."),
            ("/t/./health", "."),
            ("/t/FOO.COM/health", "FOO.COM"),
            ("/t/foo.com./health", "foo.com."),
            ("/t/-foo.com/health", "-foo.com"),
            ("/t/" + "a" * 300 + "/health", "a" * 300),
            ("/t/" + "a." * 150 + "com/health", "a." * 150 + "com"),
            ("/t/" + "a" * 100_000 + "/health", "a" * 100_000),
            ("/t/bücher.de/health", "bücher.de"),
            ("/t/%F0%9F%94%91.com/health", "\N{KEY}.com"),
            ("/t/foo%00.com/health", "foo\x00.com"),
            ("/t/foo.com%20/health", "foo.com "),
            ("/t/'%20OR%201=1--/health", "' OR 1=1--"),
        ],
    )
    def test_no_such_tenant(self, client, world, path, domain):
        response = client.get(path)
        assert response.status_code == 404
        assert body(response)["tenant_domain"] == domain

    @pytest.mark.parametrize(
        "path",
        [
            "/t",
            "/t/foo.com",  # the tenant's root: no view there
            "/t/foo.com/",
            "/t/foo.com/t/foo.com/health",
            "/T/foo.com/health",
            "/tenant/foo.com/health",
            "/health/",
        ],
    )
    def test_no_such_resource(self, client, world, path):
        response = client.get(path)
        assert response.status_code == 404
        assert "tenant_domain" not in body(response)


class TestScriptPrefix:
    """The /t/<domain> prefix moves into the script prefix, so reverse() inside a tenant keeps it."""

    @pytest.mark.parametrize(
        ("path", "login"),
        [
            ("/t/foo.com/admin/", "/t/foo.com/admin/login/?next=/t/foo.com/admin/"),
            ("/admin/", "/admin/login/?next=/admin/"),
        ],
    )
    def test_redirects_keep_the_tenant(self, client, world, path, login):
        response = client.get(path, secure=True)
        assert response.status_code == 302
        assert response["Location"] == login

    def test_prefix_is_set_for_every_request(self, client, world):
        """Regression: the prefix of one request leaked into the next (/t/foo.com/t/foo.com/...)."""
        for path, login in [
            ("/t/foo.com/admin/", "/t/foo.com/admin/login/"),
            ("/t/foo.com/admin/", "/t/foo.com/admin/login/"),
            ("/admin/", "/admin/login/"),
            ("/t/carbon.super/admin/", "/t/carbon.super/admin/login/"),
            ("/admin/", "/admin/login/"),
        ]:
            response = client.get(path, secure=True)
            assert response["Location"].split("?")[0] == login, path

    def test_reverse_inside_a_tenant(self, rf, world):
        from tenants.middleware import TenantMiddleware

        seen = {}

        def view(request):
            seen["health"] = reverse("health")
            seen["prefix"] = get_script_prefix()
            from django.http import HttpResponse

            return HttpResponse()

        TenantMiddleware(view)(rf.get("/t/foo.com/health"))
        assert seen == {"health": "/t/foo.com/health", "prefix": "/t/foo.com/"}
        TenantMiddleware(view)(rf.get("/health"))
        assert seen == {"health": "/health", "prefix": "/"}


class TestTenantCache:
    """Lookups are cached, and a change to a tenant is seen at once."""

    def test_warm_request_costs_no_query(self, client, world, django_assert_num_queries):
        with django_assert_num_queries(1):
            assert client.get("/t/foo.com/health").status_code == 200
        with django_assert_num_queries(0):
            assert client.get("/t/foo.com/health").status_code == 200
        client.get("/health")
        with django_assert_num_queries(0):
            assert client.get("/health").status_code == 200

    def test_unknown_tenant_is_cached_too(self, client, world, django_assert_num_queries):
        client.get("/t/bar.com/health")
        with django_assert_num_queries(0):
            assert client.get("/t/bar.com/health").status_code == 404

    def test_malformed_domain_costs_no_query(self, client, world, django_assert_num_queries):
        with django_assert_num_queries(0):
            assert client.get("/t/FOO.COM/health").status_code == 404

    @pytest.mark.parametrize(
        "change",
        [
            lambda tenant: setattr(tenant, "active", False) or tenant.save(),
            lambda tenant: tenant.delete(),
        ],
        ids=["deactivated", "deleted"],
    )
    def test_change_is_seen_at_once(self, client, world, change):
        assert client.get("/t/foo.com/health").status_code == 200
        change(Tenant.objects.get(pk=world.foo.pk))
        response = client.get("/t/foo.com/health")
        assert response.status_code == 404
        assert body(response)["tenant_domain"] == "foo.com"

    def test_new_and_reactivated_tenants_are_seen_at_once(self, client, world):
        assert client.get("/t/bar.com/health").status_code == 404
        assert client.get("/t/sleepy.org/health").status_code == 404
        Tenant.objects.create(domain="bar.com")
        sleepy = Tenant.objects.get(pk=world.sleepy.pk)
        sleepy.active = True
        sleepy.save()
        assert client.get("/t/bar.com/health").status_code == 200
        assert client.get("/t/sleepy.org/health").status_code == 200

    def test_bulk_change_is_seen_at_once(self, client, world):
        """Regression: a QuerySet.update() (no post_save) was seen only after [tenant] cache_seconds."""
        assert client.get("/t/foo.com/health").status_code == 200
        Tenant.objects.filter(pk=world.foo.pk).update(active=False)
        assert client.get("/t/foo.com/health").status_code == 404

    def test_flood_of_unknown_domains_is_bounded(self, client, world, deployment_override):
        """Regression: every unknown /t/<domain> stayed cached forever (memory grew per request)."""
        deployment_override(cache=dataclasses.replace(settings.DEPLOYMENT.cache, max_entries=100))
        for number in range(150):
            assert client.get(f"/t/x{number}.com/health").status_code == 404
            assert len(cache) <= 100
        assert client.get("/t/foo.com/health").status_code == 200
