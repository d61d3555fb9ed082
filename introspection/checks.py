"""System checks of the introspection configuration (ids introspection.W0xx)."""

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.core import checks

from deployment.current import get_deployment


@checks.register(checks.Tags.security, deploy=True)
def skip_authorization_off(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """introspection.W001: skip_authorization lets anyone introspect any token."""
    if not get_deployment().oauth.introspect.skip_authorization:
        return []
    return [
        checks.Warning(
            "[oauth.introspect] skip_authorization is on: anyone can introspect tokens",
            hint="set skip_authorization = false in deployment.toml unless the endpoint is only reachable "
            "by trusted services",
            id="introspection.W001",
        )
    ]
