"""The one way the running code reads deployment.toml: ``get_deployment()``."""

from django.conf import settings

from deployment import Deployment


def get_deployment() -> Deployment:
    """Return the configuration this process runs with (``settings.DEPLOYMENT``)."""
    return settings.DEPLOYMENT
