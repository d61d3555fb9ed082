"""What the operator commands share: finding rows by the names an operator types, and turning
a refused change into a clear error on stderr with a non-zero exit (Django's CommandError)."""

from __future__ import annotations

import contextlib

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.db import DataError, IntegrityError

from identity.models import Client, User
from tenants.models import Tenant

ACTOR = "command"  # who acts, in the audit trail


def _first(queryset):
    """Return the queryset's first row, or None; a name the database cannot even hold (a NUL,
    which PostgreSQL's text refuses) names no row either."""
    try:
        return queryset.first()
    except DataError:
        return None


def tenant_named(domain: str) -> Tenant:
    tenant = _first(Tenant.objects.filter(domain=domain))
    if tenant is None:
        raise CommandError(
            f"tenant '{domain}' does not exist; list them in the admin or create one with createtenant"
        )
    return tenant


def user_named(tenant: Tenant, username: str) -> User:
    user = _first(User.objects.for_tenant(tenant).filter(username=username))
    if user is None:
        raise CommandError(f"no user '{username}' in tenant {tenant.domain}")
    return user


def client_named(tenant: Tenant, client_id: str) -> Client:
    client = _first(Client.objects.for_tenant(tenant).filter(client_id=client_id))
    if client is None:
        raise CommandError(f"no client '{client_id}' in tenant {tenant.domain}")
    return client


def describe(exc: Exception) -> str:
    """Return a validation error's messages as one line (``field: message; ...``)."""
    if isinstance(exc, ValidationError):
        if hasattr(exc, "message_dict"):
            return "; ".join(f"{field}: {' '.join(messages)}" for field, messages in exc.message_dict.items())
        return "; ".join(exc.messages)
    return str(exc)


@contextlib.contextmanager
def refused(what: str):
    """Turn a change the service refused into ``CommandError("<what>: <why>")``; the service's
    transaction has rolled back, so nothing was half made. A value the database cannot store
    (PostgreSQL's text refuses NUL) is refused the same way, not with a traceback."""
    try:
        yield
    except (ValidationError, IntegrityError, DataError) as exc:
        raise CommandError(f"{what}: {describe(exc)}") from exc
