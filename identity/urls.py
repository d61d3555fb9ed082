"""URLs of one tenant. TenantMiddleware strips /t/<domain> first, so these serve every tenant."""

from django.contrib import admin
from django.urls import include, path, re_path

from identity import health, metrics, views
from identity.admin_site import no_view_on_site
from identity.api.views.fallback import NotFound
from identity.oauth import discovery, registration
from identity.oauth import views as oauth
from identity.oauth.login import TenantLoginView

urlpatterns = [
    path("", include("introspection.urls")),  # first: the hot path resolves at the first pattern
    path("admin/r/<path:rest>", no_view_on_site),  # before the admin's own: see its docstring
    path("admin/", admin.site.urls),
    path("health", views.health, name="health"),
    path("api/v1/", include("identity.api.urls")),
    re_path(r"^api(/.*)?$", NotFound.as_view()),
    # Outside /t/: TenantMiddleware resolves no tenant for these (tenants.middleware.UNTENANTED_PATHS).
    path("health/live", health.live, name="health-live"),
    path("health/ready", health.ready, name="health-ready"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("login/", TenantLoginView.as_view(), name="tenant-login"),
    path("oauth2/token", oauth.TokenView.as_view(), name="token"),
    path("oauth2/revoke", oauth.RevokeTokenView.as_view(), name="revoke"),
    path("oauth2/authorize", oauth.AuthorizationView.as_view(), name="authorize"),
    path("oauth2/jwks", discovery.jwks, name="jwks"),
    path("oauth2/register", registration.RegisterView.as_view(), name="register"),
    path(
        "oauth2/register/<str:client_id>", registration.RegistrationClientView.as_view(), name="registration"
    ),
    path(".well-known/openid-configuration", discovery.openid_configuration, name="openid-configuration"),
    path(".well-known/oauth-authorization-server", discovery.authorization_server_metadata),
    re_path(
        r"^\.well-known/oauth-authorization-server/t/(?P<domain>[^/]+)$",
        discovery.authorization_server_metadata,
        name="oauth-authorization-server",
    ),
]

handler404 = "identity.views.not_found"
handler500 = "identity.views.server_error"
