"""Routes of the management API, mounted at ``api/v1/`` of every tenant (docs/api.md)."""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from identity.api import schema  # noqa: F401 (registers the authentication schemes)
from identity.api.views import clients, keys, roles, tenants, tokens, users
from identity.api.views.fallback import NotFound

router = SimpleRouter(trailing_slash=False)
router.register("clients", clients.ClientViewSet, basename="api-client")
router.register("roles", roles.RoleViewSet, basename="api-role")
router.register("keys", keys.KeyViewSet, basename="api-key")
router.register("users", users.UserViewSet, basename="api-user")
router.register("tokens", tokens.TokenViewSet, basename="api-token")
router.register("tenants", tenants.TenantManagementViewSet, basename="api-tenant")

urlpatterns = [
    path(
        "openapi.json",
        SpectacularJSONAPIView.as_view(authentication_classes=[], permission_classes=[]),
        name="api-schema",
    ),
    path(
        "docs/",
        SpectacularSwaggerView.as_view(
            url_name="api-schema", authentication_classes=[], permission_classes=[]
        ),
        name="api-docs",
    ),
    *router.urls,
    re_path(r"^.*$", NotFound.as_view()),
]
