from django.apps import AppConfig


class IntrospectionConfig(AppConfig):
    name = "introspection"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from deployment.current import get_deployment
        from identity.oauth.scripts import configured_scripts
        from introspection import checks  # noqa: F401  (system checks)

        # Import every [[oauth.introspect.script]] now: a bad one stops start-up, naming it (docs/scripts.md).
        configured_scripts(get_deployment())
