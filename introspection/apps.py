from django.apps import AppConfig


class IntrospectionConfig(AppConfig):
    name = "introspection"
    default_auto_field = "django.db.models.BigAutoField"
