"""What Django's error reports may show: no secret of deployment.toml or of the environment.

With ``[server] debug = true`` Django renders its technical page for a 500 (and for a
400 it raises itself, such as too many form fields). Django's own filter hides settings whose
*names* look secret; ours also hides ``settings.DEPLOYMENT`` whole, and then replaces every
secret *value* wherever it appears on the page (a setting, a local variable, a request
header, the exception message): the super admin password, the secret key, the database
password, the Redis URLs, every ``$env{NAME}`` value substituted into deployment.toml, and
the values of environment variables whose names look secret. What ``sensitive_variables``
names (a new signing key's frames) is hidden in debug too, and a PEM private key block wherever
it appears. See docs/security.md.
"""

from __future__ import annotations

import dataclasses
import html
import os
import re
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

MASK = SafeExceptionReporterFilter.cleansed_substitute
SECRET_NAMES = re.compile(
    "API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|CREDENTIAL|PRIVATE|DSN|DEPLOYMENT|REDIS|DATABASE_URL",
    flags=re.IGNORECASE,
)
SECRET_KEYS = ("password", "secret_key", "redis_url", "client_secret", "url")
MIN_LENGTH = 3  # shorter values would mask half the page and hide nothing
# A private key wherever a frame held one (a signing key's row being read): from its BEGIN line
# to its END line, or to where Django trimmed the variable (past 4096 characters) or the text
# ends. Between them may come what a repr splits a long string with (quotes, line breaks).
PEM_PRIVATE_KEY = re.compile(
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?"
    r"(?:-----END [A-Z ]*PRIVATE KEY-----|(?:<|&lt;)trimmed \d+ bytes string|\Z)",
    flags=re.DOTALL,
)


def _leaves(value, key: str = ""):
    """Yield ``(key, string)`` for every string inside a (dataclass) configuration value."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            yield from _leaves(getattr(value, field.name), field.name)
    elif isinstance(value, dict):
        for name, item in value.items():
            yield from _leaves(item, str(name))
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _leaves(item, key)
    elif isinstance(value, str):
        yield key, value


def secret_values() -> set[str]:
    """Return the secret values of this process's configuration and environment."""
    found = {settings.SECRET_KEY}
    leaves = list(_leaves(getattr(settings, "DEPLOYMENT", None)))
    for key, value in leaves:
        if key in SECRET_KEYS or SECRET_NAMES.search(key):
            found.add(value)
            parts = urlsplit(value) if "://" in value else None
            if parts is not None and parts.password:
                found.update({parts.password, unquote(parts.password)})
    for name, value in os.environ.items():
        # A secret-looking name, or a value substituted into deployment.toml by $env{NAME}.
        if SECRET_NAMES.search(name) or any(value in leaf for _, leaf in leaves if len(value) >= MIN_LENGTH):
            found.add(value)
    database = settings.DATABASES.get("default", {})
    found.add(database.get("PASSWORD") or "")
    return {value for value in found if len(value) >= MIN_LENGTH}


def mask(text: str, secrets: set[str]) -> str:
    """Return ``text`` with every secret replaced, as written and as HTML-escaped, and every PEM
    private key block."""
    for value in sorted(secrets, key=len, reverse=True):
        for form in {value, html.escape(value), repr(value)[1:-1]}:
            text = text.replace(form, MASK)
    return PEM_PRIVATE_KEY.sub(MASK, text)


class SecretMaskingFilter(SafeExceptionReporterFilter):
    """Django's filter, hiding ``DEPLOYMENT`` and the URLs and names that may carry credentials."""

    hidden_settings = SECRET_NAMES

    def is_active(self, request) -> bool:
        """Hide what ``sensitive_variables`` and ``sensitive_post_parameters`` name in debug too
        (Django's filter shows them then): a private key's PEM, a password being checked."""
        return True

    def cleanse_setting(self, key, value):
        if key == "DEPLOYMENT":
            return self.cleansed_substitute
        return super().cleanse_setting(key, value)


class SecretMaskingReporter(ExceptionReporter):
    """Django's reporter, whose pages and texts never carry a secret value."""

    def get_traceback_html(self):
        return mask(str(super().get_traceback_html()), secret_values())

    def get_traceback_text(self):
        return mask(str(super().get_traceback_text()), secret_values())
