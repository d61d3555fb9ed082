"""Settings for the test suite: the project's, on the database that TEST_DATABASE_URL names.

``TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/identity`` runs the suite on
PostgreSQL (Django creates and drops ``test_identity``); unset, on SQLite.
"""

import os

from deployment import IdentityDbConfig
from identity.database import postgres_settings
from identity.settings import *  # noqa: F403

_url = os.environ.get("TEST_DATABASE_URL", "")
if _url:
    DATABASES = {"default": postgres_settings(IdentityDbConfig(type="postgres", url=_url))}
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}

# Unit tests hash many passwords; the black-box tests run the real hashers in the real server.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", "identity.hashers.ClientSecretHasher"]

# WhiteNoise indexes every static file (the admin's, Swagger UI's) each time its middleware is
# built, and the test client builds the middleware anew for each test (~35 ms each, a minute of
# the suite). Find a file when it is asked for instead; the real servers keep the index.
WHITENOISE_AUTOREFRESH = True
