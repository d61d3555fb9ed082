"""Turn ``[database.identity_db]`` into Django's ``DATABASES`` entry (SQLite or PostgreSQL)."""

from urllib.parse import unquote, urlsplit

from deployment import Deployment, IdentityDbConfig

CONNECT_TIMEOUT_SECONDS = 5  # libpq connect_timeout
RECONNECT_SECONDS = 5  # psycopg_pool reconnect_timeout
TCP_USER_TIMEOUT_MS = 15_000  # unacknowledged data for longer than this breaks the connection


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
        # Django's backend, checking a pooled connection before lending it only when it may be
        # broken (identity/postgresql/base.py), not at every lending as CONN_HEALTH_CHECKS does.
        "ENGINE": "identity.postgresql",
        "NAME": unquote(url.path.lstrip("/")) or "identity",
        "USER": db.username or unquote(url.username or ""),
        "PASSWORD": db.password or unquote(url.password or ""),
        "HOST": url.hostname or "127.0.0.1",
        "PORT": str(url.port or 5432),
        "OPTIONS": {
            "pool": {
                "min_size": db.pool_min_size,
                "max_size": db.pool_max_size,
                "timeout": db.pool_timeout,  # a request waits this long for a connection, then 503
                # The pool's reconnection backoff never waits longer than this, so the server
                # is back within seconds of the database, however long the outage was.
                "reconnect_timeout": RECONNECT_SECONDS,
            },
            # Bounded waits on the network: a dead host or a silent link is an error, not a hang.
            "connect_timeout": CONNECT_TIMEOUT_SECONDS,
            "keepalives": 1,
            "keepalives_idle": 10,
            "keepalives_interval": 5,
            "keepalives_count": 3,
            "tcp_user_timeout": TCP_USER_TIMEOUT_MS,
        },
    }
