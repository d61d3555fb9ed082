"""Checks of deployment.toml that span keys, or restrict a value to a few choices; each names
the key and says what to write instead."""

from __future__ import annotations

import ipaddress
import re
import typing

from deployment.domains import is_tenant_domain
from deployment.postgres_url import parse_postgres_url
from deployment.schema import (
    AUTH_HANDLERS,
    DATABASE_TYPES,
    DEMO_TENANT,
    HTTP_METHODS,
    INSECURE_SECRET_KEY_PREFIX,
    LOG_FORMATS,
    LOG_LEVELS,
    MAX_FLUSH_INTERVAL,
    MAX_USERNAME_LENGTH,
    MIN_PASSWORD_ITERATIONS,
    MIN_PUBLISHED_SIGNING_KEYS,
    MIN_SECRET_KEY_CHARACTERS,
    MIN_SECRET_KEY_LENGTH,
    SUBJECT_FORMATS,
    Deployment,
)

_CALLABLE_PATH = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")

# ``Reader.fail``: raise the DeploymentError of a key path.
Fail = typing.Callable[[tuple, str], typing.NoReturn]


def check(deployment: Deployment, fail: Fail) -> None:
    """Checks that span keys, or restrict a value to a few choices."""
    server, db, oauth = deployment.server, deployment.database.identity_db, deployment.oauth
    if not 0 < server.port < 65536:
        fail(("server", "port"), "must be a TCP port, 1 to 65535")
    if server.workers < 1:
        fail(("server", "workers"), "must be at least 1")
    for key in ("max_body_bytes", "max_form_fields", "max_header_bytes"):
        if getattr(server, key) < 1:
            fail(("server", key), "must be a positive number")
    _check_trusted_proxies(server.trusted_proxies, fail)
    _check_secret_key(server.secret_key, fail)
    _check_operations(deployment, fail)
    if deployment.demo.enabled and not server.debug:
        fail(
            ("demo", "enabled"),
            "demo data (admin/admin) is refused when [server] debug = false; set it to false",
        )
    if db.type not in DATABASE_TYPES:
        fail(("database", "identity_db", "type"), f"must be one of {', '.join(DATABASE_TYPES)}")
    if db.type == "postgres":
        try:
            parse_postgres_url(db.url)
        except ValueError as exc:
            fail(("database", "identity_db", "url"), f"{exc} (type postgres)")
    if not 1 <= db.pool_min_size <= db.pool_max_size:
        fail(("database", "identity_db", "pool_max_size"), "needs 1 <= pool_min_size <= pool_max_size")
    if not is_tenant_domain(deployment.tenant.super_tenant_domain):
        fail(("tenant", "super_tenant_domain"), "must be a lower-case domain name such as carbon.super")
    _check_super_admin_username(deployment, fail)
    if deployment.demo.enabled:
        _check_demo(deployment, fail)
    if deployment.super_admin.create_admin_account and not deployment.super_admin.password:
        fail(
            ("super_admin", "password"),
            "is required while create_admin_account = true (it may be $env{NAME})",
        )
    if oauth.validation_response_subject_identifier_format not in SUBJECT_FORMATS:
        fail(
            ("oauth", "validation_response_subject_identifier_format"),
            f"must be one of {', '.join(SUBJECT_FORMATS)}",
        )
    for key in ("access_token_validity", "refresh_token_validity", "refresh_token_max_lifetime"):
        if getattr(oauth, key) <= 0:
            fail(("oauth", key), "must be a positive number of seconds")
    if oauth.max_published_signing_keys < MIN_PUBLISHED_SIGNING_KEYS:
        fail(
            ("oauth", "max_published_signing_keys"),
            f"must be at least {MIN_PUBLISHED_SIGNING_KEYS}: the current key and the one a rotation "
            "retires, which stays published until its tokens expire",
        )
    names: set[str] = set()
    for index, script in enumerate(oauth.introspect.script):
        keypath = ("oauth", "introspect", "script", index)
        if script.name in names:
            fail((*keypath, "name"), f"duplicate script name '{script.name}'")
        names.add(script.name)
        if not _CALLABLE_PATH.match(script.callable):
            fail((*keypath, "callable"), "must be 'module.path:function'")
    for permission in deployment.resource_access_control.introspect.permissions:
        if not permission.startswith("/permission"):
            fail(
                ("resource_access_control", "introspect", "permissions"),
                f"'{permission}' is not a /permission path",
            )
    for index, entry in enumerate(deployment.resource.access_control):
        entry_path = ("resource", "access_control", index)
        for method in entry.http_method:
            if method != "all" and method.upper() not in HTTP_METHODS:
                fail((*entry_path, "http_method"), f"'{method}' is not 'all' or an HTTP method")
        if not entry.allowed_auth_handlers:
            fail(
                (*entry_path, "allowed_auth_handlers"),
                f"names no handler; use some of {', '.join(AUTH_HANDLERS)}",
            )
        for handler in entry.allowed_auth_handlers:
            if handler not in AUTH_HANDLERS:
                fail(
                    (*entry_path, "allowed_auth_handlers"),
                    f"unknown handler '{handler}'; use {', '.join(AUTH_HANDLERS)}",
                )


def _check_trusted_proxies(proxies: tuple[str, ...], fail) -> None:
    """Each trusted proxy is one IP address (docs/deployment-toml.md): gunicorn, given the same
    list, reads ``*`` as every peer, whose ``X-Forwarded-Proto: https`` would then make a plain
    request secure; a range or a name would match no peer here and stop gunicorn at start."""
    for index, proxy in enumerate(proxies):
        try:
            ipaddress.ip_address(proxy)
        except ValueError:
            fail(
                ("server", "trusted_proxies", index),
                f"'{proxy}' is not an IP address; list each proxy's exact address",
            )


def _check_secret_key(key: str, fail) -> None:
    """Refuse what Django's check security.W009 warns of: whoever guesses the key forges
    sessions (an admin's) and CSRF tokens. Empty is fine: a random key is made and kept in
    var/secret_key. The message never repeats the key."""
    if not key:
        return
    fix = (
        f"use at least {MIN_SECRET_KEY_LENGTH} random characters, e.g. the output of "
        "python3 -c 'import secrets; print(secrets.token_urlsafe(50))', "
        "or leave it empty for a random key kept in var/secret_key"
    )
    if len(key) < MIN_SECRET_KEY_LENGTH:
        fail(
            ("server", "secret_key"),
            f"is too short ({len(key)} of at least {MIN_SECRET_KEY_LENGTH} characters); {fix}",
        )
    if len(set(key)) < MIN_SECRET_KEY_CHARACTERS:
        fail(
            ("server", "secret_key"),
            f"has {len(set(key))} different characters, needs at least {MIN_SECRET_KEY_CHARACTERS}; {fix}",
        )
    if key.startswith(INSECURE_SECRET_KEY_PREFIX):
        fail(
            ("server", "secret_key"),
            f"starts with '{INSECURE_SECRET_KEY_PREFIX}', Django's placeholder; {fix}",
        )


def _check_super_admin_username(deployment: Deployment, fail) -> None:
    """Refuse a first admin's name that bootstrap could not create (where the file tells)."""
    admin, tenant = deployment.super_admin, deployment.tenant
    if not admin.create_admin_account:
        return
    name, keypath = admin.username, ("super_admin", "username")
    if not name.strip() or len(name) > MAX_USERNAME_LENGTH:
        fail(keypath, f"must be 1 to {MAX_USERNAME_LENGTH} characters, not all spaces")
    if "@" in name and not tenant.email_usernames:
        fail(
            keypath,
            "may not contain @ unless [tenant] email_usernames = true (signing in, @ names the tenant)",
        )
    if name.lower().endswith("@" + tenant.super_tenant_domain):
        fail(keypath, f"give it without @{tenant.super_tenant_domain}: the super tenant is implied")


def _check_demo(deployment: Deployment, fail) -> None:
    """Refuse what the demo tenant would clash with: bootstrap makes it beside the super tenant."""
    if deployment.tenant.super_tenant_domain == DEMO_TENANT:
        fail(
            ("tenant", "super_tenant_domain"),
            f"may not be {DEMO_TENANT} while [demo] enabled = true: the demo data is the tenant "
            f"{DEMO_TENANT} of the source documents (/t/{DEMO_TENANT}/), beside the super tenant",
        )
    admin = deployment.super_admin
    if admin.create_admin_account and admin.username.lower().endswith("@" + DEMO_TENANT):
        fail(
            ("super_admin", "username"),
            f"may not end in @{DEMO_TENANT} while [demo] enabled = true: signing in, it would name "
            f"the demo tenant's user",
        )


def _check_operations(deployment: Deployment, fail) -> None:
    """Checks of the [cache], [throttle], [password], [observability] and [logging] tables."""
    cache, throttle, logs = deployment.cache, deployment.throttle, deployment.logging
    if deployment.password.iterations < MIN_PASSWORD_ITERATIONS:
        fail(
            ("password", "iterations"),
            f"must be an integer of at least {MIN_PASSWORD_ITERATIONS} (RFC 8018 section 4.2); "
            "keep 600000 or more in production (OWASP)",
        )
    if cache.max_entries < 100:
        fail(("cache", "max_entries"), "must be at least 100")
    if cache.max_age < 1:
        fail(("cache", "max_age"), "must be a positive number of seconds")
    for key in ("per_identity", "per_address", "window"):
        if getattr(throttle, key) < 1:
            fail(("throttle", key), "must be a positive number")
    if throttle.redis_url and not throttle.redis_url.startswith(("redis://", "rediss://", "unix://")):
        fail(("throttle", "redis_url"), "must look like redis://host:port/0")
    for index, network in enumerate(deployment.observability.metrics_allowed):
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            fail(("observability", "metrics_allowed", index), f"'{network}' is not an address or network")
    if logs.format and logs.format not in LOG_FORMATS:
        fail(("logging", "format"), f"must be one of {', '.join(LOG_FORMATS)}")
    if logs.level not in LOG_LEVELS:
        fail(("logging", "level"), f"must be one of {', '.join(LOG_LEVELS)}")
    if not 0 <= logs.flush_interval <= MAX_FLUSH_INTERVAL:
        fail(("logging", "flush_interval"), f"must be between 0 and {MAX_FLUSH_INTERVAL} seconds")
