"""Turn ``[database.identity_db]`` into Django's ``DATABASES`` entry (SQLite or PostgreSQL)."""

from deployment import Deployment, IdentityDbConfig
from deployment.postgres_url import parse_postgres_url

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
    """Return a psycopg 3 entry with its connection pool, from libpq's connection URI
    (``deployment/postgres_url.py``: a host, an address or a Unix socket's directory)."""
    url = parse_postgres_url(db.url)
    return {
        # Django's backend, checking a pooled connection before lending it only when it may be
        # broken (identity/postgresql/base.py), not at every lending as CONN_HEALTH_CHECKS does.
        "ENGINE": "identity.postgresql",
        "NAME": url.dbname,
        "USER": db.username or url.user,
        "PASSWORD": db.password or url.password,
        "HOST": url.host,
        "PORT": str(url.port),
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
            # (libpq ignores the TCP ones on a Unix socket.)
            "connect_timeout": CONNECT_TIMEOUT_SECONDS,
            "keepalives": 1,
            "keepalives_idle": 10,
            "keepalives_interval": 5,
            "keepalives_count": 3,
            "tcp_user_timeout": TCP_USER_TIMEOUT_MS,
            # psycopg prepares a statement at its first run on a connection. Only queries bound by
            # the server are prepared: Django's own cursors quote values in Python and never are,
            # so this is the first sight's token read (tenants/prepared.py). None: never.
            "prepare_threshold": 0 if db.prepared_statements else None,
            **url.tls,
        },
    }
