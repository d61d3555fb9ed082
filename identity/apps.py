from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class IdentityConfig(AppConfig):
    name = "identity"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Audit receivers, request ids, role/tenant consistency.
        from deployment.current import get_deployment
        from identity import audit_events, metrics, request_id, signals  # noqa: F401
        from identity.logs import skip_unused_record_fields

        skip_unused_record_fields()
        if get_deployment().observability.enabled:
            metrics.observe_cache_and_bus()


class IdentityAdminConfig(admin_apps.AdminConfig):
    """Django's admin, with our site as ``admin.site`` (no mutation of Django's on import)."""

    default = False  # the `identity` app is IdentityConfig; this one is named in INSTALLED_APPS
    default_site = "identity.admin_site.IdentityAdminSite"

    def ready(self):
        super().ready()  # autodiscover: every app's admin.py registers on our site
        from django.contrib.auth.models import Group

        # Django's groups are global, not a tenant's: users get permissions through roles
        # (docs/admin.md).
        self.module.site.unregister(Group)
