"""Turn ``[database.identity_db]`` into Django's ``DATABASES`` entry (SQLite or PostgreSQL)."""

from urllib.parse import unquote, urlsplit

from identity.deployment import Deployment, IdentityDbConfig


def database_settings(deployment: Deployment) -> dict:
    """Return the ``DATABASES["default"]`` dict for the configured database."""
    db = deployment.database.identity_db
    if db.type == "sqlite":
        path = deployment.resolve_path(db.url)
        path.parent.mkdir(parents=True, exist_ok=True)  # var/ is git-ignored: absent on a fresh clone
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(path),
            # A writer waits for the lock instead of failing at once (several gunicorn workers).
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
        }
    return postgres_settings(db)


def postgres_settings(db: IdentityDbConfig) -> dict:
    """Return a psycopg 3 entry with its connection pool, from ``postgresql://host:port/dbname``."""
    url = urlsplit(db.url)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(url.path.lstrip("/")) or "identity",
        "USER": db.username or unquote(url.username or ""),
        "PASSWORD": db.password or unquote(url.password or ""),
        "HOST": url.hostname or "127.0.0.1",
        "PORT": str(url.port or 5432),
        # The pool replaces persistent connections (CONN_MAX_AGE must stay 0 with it).
        "OPTIONS": {
            "pool": {"min_size": db.pool_min_size, "max_size": db.pool_max_size, "timeout": db.pool_timeout},
        },
    }
