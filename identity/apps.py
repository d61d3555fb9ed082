from django.apps import AppConfig


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
