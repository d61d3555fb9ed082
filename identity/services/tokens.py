"""Token housekeeping (SPEC §9 ``cleartokens``)."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from identity.models import AccessToken, Grant, IDToken, RefreshToken


@transaction.atomic
def clear_expired() -> dict[str, int]:
    """Delete expired tokens and codes of every tenant, and revoked ones no longer needed.

    A revoked access token is kept until it would have expired, so the admin can list it as
    revoked; a revoked or expired refresh token goes once its own expiry has passed (rotated
    ones are what reuse detection needs until then).
    """
    now = timezone.now()
    deleted = {}
    refresh = RefreshToken.objects.all_tenants().filter(
        Q(expires__lte=now) | Q(expires__isnull=True, revoked__lte=now)
    )
    deleted["refresh tokens"] = refresh.delete()[1].get(RefreshToken._meta.label, 0)
    # An expired access token whose refresh token still lives stays: the refresh grant needs it.
    live_refresh = Q(
        refresh_token__isnull=False, refresh_token__revoked__isnull=True, refresh_token__expires__gt=now
    )
    access = AccessToken.objects.all_tenants().filter(expires__lte=now).exclude(live_refresh)
    deleted["access tokens"] = access.delete()[1].get(AccessToken._meta.label, 0)
    deleted["authorization codes"] = Grant.objects.all_tenants().filter(expires__lte=now).delete()[0]
    deleted["ID tokens"] = IDToken.objects.all_tenants().filter(expires__lte=now).delete()[0]
    return deleted
