"""The benchmark's data: a tenant, a client, a user, and N access tokens loaded with COPY.

The tenant, client and user are made with the management commands an operator uses (docs/commands.md).
Tokens are written straight into PostgreSQL, as the toolkit stores them (the SHA-256 digest,
``token`` blank), from raw values derived from their index, so the load generator can send
any of them: ``raw_token(i)`` for ``0 <= i < N``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.server import Server

TENANT = "bench.test"
USER = "bench-caller"
PERMISSION = "/permission/admin/manage/identity/applicationmgt/view"
CALLER_SCOPE = "internal_oauth2_introspect"
TOKEN_SCOPE = "test1 test2"
COPY_BATCH = 50_000
REBUILD_INDEXES_FROM = 100_000  # rows; below this, COPY into the indexed table
_SEED = b"identity-bench"
_COPY = (
    "COPY identity_accesstoken (token, token_checksum, expires, scope, resource, created, updated, "
    "jti, grant_type, revoked, tenant_id, application_id, user_id) FROM STDIN"
)


@dataclass(frozen=True)
class Callers:
    """The credentials of each caller mode, and the ids the token rows point to."""

    client_id: str
    client_secret: str
    username: str  # fully qualified: user@tenant
    password: str
    bearer: str
    tenant_pk: int
    client_pk: int
    user_pk: int


def raw_token(index: int) -> str:
    """The value of the ``index``-th loaded token: 43 URL-safe characters, like the toolkit's."""
    digest = hashlib.blake2b(index.to_bytes(8, "big"), key=_SEED, digest_size=32).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def create_callers(server: Server) -> Callers:
    """Migrate, bootstrap, and make the bench tenant, its client, user and bearer token."""
    server.manage("migrate", "--noinput", "-v0")
    server.manage("bootstrap")
    server.manage("createtenant", TENANT, "--admin", "admin", f"--password={secrets.token_urlsafe(16)}")
    password = secrets.token_urlsafe(16)
    server.manage(
        "createuser", USER, "--tenant", TENANT, f"--password={password}", "--permission", PERMISSION
    )
    client = json.loads(
        server.manage(
            "createclient",
            *("--tenant", TENANT, "--name", "bench"),
            *("--grant-types", "client_credentials", "password"),
            *("--scopes", "test1", "test2", CALLER_SCOPE),
        ).stdout
    )
    with server.database.connect() as conn:
        tenant_pk = conn.execute("SELECT id FROM tenants_tenant WHERE domain = %s", [TENANT]).fetchone()[0]
        client_pk = conn.execute(
            "SELECT id FROM identity_client WHERE tenant_id = %s AND client_id = %s",
            [tenant_pk, client["client_id"]],
        ).fetchone()[0]
        user_pk = conn.execute(
            "SELECT id FROM identity_user WHERE tenant_id = %s AND username = %s", [tenant_pk, USER]
        ).fetchone()[0]
    callers = Callers(
        client_id=client["client_id"],
        client_secret=client["client_secret"],
        username=f"{USER}@{TENANT}",
        password=password,
        bearer=secrets.token_urlsafe(32),
        tenant_pk=tenant_pk,
        client_pk=client_pk,
        user_pk=user_pk,
    )
    # The Bearer caller's own token: a client_credentials token carrying the introspection scope.
    with server.database.connect() as conn, conn.cursor() as cursor, cursor.copy(_COPY) as copy:
        copy.write(_row(callers, callers.bearer, datetime.now(UTC), scope=CALLER_SCOPE, with_user=False))
    return callers


def load_tokens(server: Server, callers: Callers, start: int, stop: int) -> None:
    """Insert tokens ``start``..``stop - 1`` with COPY, then VACUUM ANALYZE and CHECKPOINT so
    that neither the planner's statistics nor a checkpoint differ from a settled database.

    A big load drops the table's secondary indexes and builds them again afterwards, in the same
    transaction: maintaining nine B-trees row by row is most of the time COPY takes."""
    now = datetime.now(UTC)
    with server.database.connect() as conn, conn.cursor() as cursor:
        rebuild = []
        if stop - start >= REBUILD_INDEXES_FROM:
            # The foreign keys are deferred: check them row by row, or the ALTER TABLEs after
            # COPY refuse to run with their checks pending.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            rebuild = _drop_secondary_indexes(cursor)
        with cursor.copy(_COPY) as copy:
            for batch in range(start, stop, COPY_BATCH):
                copy.write(
                    "".join(
                        # Half app tokens (no user), half user tokens: both shapes of a response
                        # (docs/introspection.md#the-subject-identifier).
                        _row(callers, raw_token(i), now, scope=TOKEN_SCOPE, with_user=bool(i % 2))
                        for i in range(batch, min(batch + COPY_BATCH, stop))
                    )
                )
        for statement in rebuild:
            cursor.execute(statement)
    with server.database.connect(autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE identity_accesstoken")
        conn.execute("CHECKPOINT")


def _drop_secondary_indexes(cursor) -> list[str]:
    """Drop the access token table's indexes but its primary key; return the statements that
    make them again, exactly as the migrations made them (names and definitions)."""
    constraints = cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE conrelid = 'identity_accesstoken'::regclass AND contype = 'u'"
    ).fetchall()
    indexes = cursor.execute(
        "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid"
        " WHERE x.indrelid = 'identity_accesstoken'::regclass AND NOT x.indisprimary"
        " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)"
    ).fetchall()
    rebuild = []
    for name, definition in constraints:
        cursor.execute(f'ALTER TABLE identity_accesstoken DROP CONSTRAINT "{name}"')
        rebuild.append(f'ALTER TABLE identity_accesstoken ADD CONSTRAINT "{name}" {definition}')
    for name, definition in indexes:
        cursor.execute(f'DROP INDEX "{name}"')
        rebuild.append(definition)
    return rebuild


def write_token_file(path: Path, first: int, end: int) -> Path:
    """Write the raw values of tokens ``first..end - 1``, one a line, for the load generator."""
    with path.open("w") as out:
        for batch in range(first, end, COPY_BATCH):
            out.write("".join(raw_token(i) + "\n" for i in range(batch, min(batch + COPY_BATCH, end))))
    return path


def _row(callers: Callers, raw: str, now: datetime, *, scope: str, with_user: bool) -> str:
    created = now.isoformat()
    # Valid for a day: longer than any run, so every token stays active throughout.
    expires = (now + timedelta(days=1)).isoformat()
    checksum = hashlib.sha256(raw.encode()).hexdigest()
    grant_type = "password" if with_user else "client_credentials"
    user = str(callers.user_pk) if with_user else r"\N"
    fields = (
        "",  # token: blank, only the digest is stored (RFC 9700, as the product stores them)
        checksum,
        expires,
        scope,
        "[]",
        created,
        created,
        str(uuid.uuid4()),
        grant_type,
        r"\N",
        str(callers.tenant_pk),
        str(callers.client_pk),
        user,
    )
    return "\t".join(fields) + "\n"
