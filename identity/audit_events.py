"""Audit events of the OAuth endpoints, logins and the Django admin, from the seams Django and
django-oauth-toolkit offer (signals, validator hooks). See docs/operations.md for each event."""

from __future__ import annotations

import base64
import binascii
import json
from urllib.parse import unquote_plus, urlsplit

from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.auth.signals import user_login_failed
from django.db.models.signals import post_save
from django.dispatch import receiver
from oauth2_provider.signals import app_authorized

from identity import audit, logs
from identity.models import AccessToken

ADMIN_VERBS = {ADDITION: "added", CHANGE: "changed", DELETION: "deleted"}
MAX_NAME = 150  # a typed username is the caller's input: keep the line bounded


def _path(request) -> str | None:
    path = getattr(request, "path", None)
    return path.split("?", 1)[0] if path else None


@receiver(app_authorized)
def token_issued(sender, request, token: AccessToken, **kwargs) -> None:
    """A token endpoint issued an access token (any grant)."""
    client = token.application
    audit.record(
        "token.issued",
        actor=f"client:{client.client_id}",
        tenant=client.tenant.domain,
        grant=token.grant_type,
        client=client.client_id,
        user=str(token.user) if token.user_id else None,
        scopes=token.scope.split(),
        token_id=str(token.jti),
    )


def client_authentication_failed(oauth_request) -> None:
    """A client failed to authenticate at the token or revocation endpoint (RFC 6749 §2.3)."""
    client_id = (
        _basic_client_id(oauth_request.headers.get("HTTP_AUTHORIZATION", "")) or oauth_request.client_id
    )
    http_path = urlsplit(oauth_request.uri or "").path or None
    audit.record(
        "auth.failed",
        kind="client",
        identity=client_id[:MAX_NAME] if client_id else None,
        path=http_path,
    )


def _basic_client_id(authorization: str) -> str | None:
    """Return the client id of an RFC 6749 §2.3.1 Basic header (the secret is dropped), or None."""
    scheme, _, payload = authorization.partition(" ")
    if scheme != "Basic":
        return None
    try:
        decoded = base64.b64decode(payload.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    client_id, colon, _secret = decoded.partition(":")
    return unquote_plus(client_id) if colon else None


@receiver(user_login_failed)
def user_authentication_failed(sender, credentials: dict, request=None, **kwargs) -> None:
    """A username and password did not authenticate: the admin's login, the password grant,
    an introspection caller. Django has already masked the password in ``credentials``. The
    tenant is the one the login named, else the path's."""
    username = str(credentials.get("username") or "")
    tenant = getattr(credentials.get("tenant"), "domain", None) or logs.tenant.get()
    audit.record(
        "auth.failed",
        kind="user",
        identity=username[:MAX_NAME],
        tenant=tenant,
        path=_path(request),
    )


@receiver(post_save, sender=LogEntry)
def admin_change(sender, instance: LogEntry, created: bool, **kwargs) -> None:
    """Record a change made in the Django admin: who, which object (its id and its name, which
    outlives a deletion), and the names of the changed fields."""
    if not created:
        return
    fields: list[str] = []
    try:
        messages = json.loads(instance.change_message or "[]")
    except ValueError:
        messages = []
    for message in messages if isinstance(messages, list) else []:
        for change in message.values() if isinstance(message, dict) else []:
            if isinstance(change, dict):
                fields.extend(change.get("fields", []))
    user = instance.user
    audit.record(
        f"admin.{ADMIN_VERBS.get(instance.action_flag, 'changed')}",
        actor=str(user),
        tenant=user.tenant.domain,
        model=f"{instance.content_type.app_label}.{instance.content_type.model}",
        object_id=str(instance.object_id),
        object_repr=instance.object_repr,
        fields=fields,
    )
