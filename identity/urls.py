"""URLs of one tenant. TenantMiddleware strips /t/<domain> first, so these serve every tenant."""

from django.contrib import admin
from django.urls import path

from identity import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("health", views.health, name="health"),
]
