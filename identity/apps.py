from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "identity"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from identity import audit_events, signals  # noqa: F401  (audit receivers; role/tenant consistency)
