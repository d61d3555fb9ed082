from django.apps import AppConfig


class IntrospectionConfig(AppConfig):
    name = "introspection"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from introspection import checks, signals  # noqa: F401  (system checks, caller cache)
