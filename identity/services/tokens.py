"""Revoke tokens, one or all of a user, a client or a tenant (RFC 7009), and token housekeeping.

Bulk revocations are one ``UPDATE`` per table through the tenant-scoped managers, never one save
per row. A revoked row is kept (the admin lists it) until ``cleartokens`` removes it.

Every writer updates refresh tokens before access tokens, as the refresh grant must (it spends
the refresh token first): with one order, two writers racing on PostgreSQL wait for each other
instead of deadlocking.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from identity import audit
from identity.models import AccessToken, Client, Grant, IDToken, RefreshToken, User
from tenants.models import Tenant


@transaction.atomic
def revoke_token(token: AccessToken | RefreshToken, *, actor: str) -> None:
    """Revoke ``token``: an access token with its refresh token, a refresh token with the access
    tokens of its grant (every rotation of it), as RFC 7009 §2.1 allows."""
    now = timezone.now()
    tenant = token.tenant
    if isinstance(token, RefreshToken):
        refresh = RefreshToken.objects.for_tenant(tenant).filter(pk=token.pk)
        if token.token_family:
            refresh = RefreshToken.objects.for_tenant(tenant).filter(token_family=token.token_family)
        access_ids = list(refresh.exclude(access_token=None).values_list("access_token_id", flat=True))
        kind = "refresh_token"
    else:
        refresh = RefreshToken.objects.for_tenant(tenant).filter(access_token_id=token.pk)
        access_ids = [token.pk]
        kind = "access_token"
    refresh_count = _revoke(refresh, now)
    access_count = _revoke(AccessToken.objects.for_tenant(tenant).filter(pk__in=access_ids), now)
    token.revoked = token.revoked or now
    audit.record(
        "token.revoked",
        actor=actor,
        tenant=tenant.domain,
        token_type=kind,
        token_id=token.pk,
        jti=str(token.jti),
        access_tokens=access_count,
        refresh_tokens=refresh_count,
    )


@transaction.atomic
def revoke_user_tokens(user: User, *, actor: str) -> int:
    """Revoke every token issued to ``user`` and drop its unused authorization codes; return how
    many tokens were revoked.

    Client-credentials tokens of the clients ``user`` owns are the clients' own, not the user's:
    they stay.
    """
    count = revoke_user_tokens_quietly(user)
    audit.record(
        "user.tokens_revoked", actor=actor, tenant=user.tenant.domain, user=user.username, tokens=count
    )
    return count


@transaction.atomic
def revoke_client_tokens(client: Client, *, actor: str) -> int:
    """Revoke every token issued to ``client`` and drop its unused codes; return the count."""
    count = revoke_client_tokens_quietly(client)
    audit.record(
        "client.tokens_revoked",
        actor=actor,
        tenant=client.tenant.domain,
        client_id=client.client_id,
        tokens=count,
    )
    return count


@transaction.atomic
def revoke_tenant_tokens(tenant: Tenant, *, actor: str) -> int:
    """Revoke every token of ``tenant`` and drop its unused codes; return the count."""
    count = revoke_tenant_tokens_quietly(tenant)
    audit.record("tenant.tokens_revoked", actor=actor, tenant=tenant.domain, tokens=count)
    return count


# The same without an audit record of their own: for a change (a lock, a deactivation) whose
# record already counts the tokens it revoked.


def revoke_user_tokens_quietly(user: User) -> int:
    tenant = user.tenant
    count = _revoke_owned(tenant, Q(user=user), exclude_app_tokens=True)
    Grant.objects.for_tenant(tenant).filter(user=user, redeemed__isnull=True).delete()
    return count


def revoke_client_tokens_quietly(client: Client) -> int:
    tenant = client.tenant
    count = _revoke_owned(tenant, Q(application=client))
    Grant.objects.for_tenant(tenant).filter(application=client, redeemed__isnull=True).delete()
    return count


def revoke_former_owners_app_tokens(client: Client) -> int:
    """Revoke ``client``'s client_credentials tokens issued for another owner than its own: each
    acts for the owner it was issued for (its user, docs/clients-and-grants.md), who no longer
    stands behind the client. Return the count."""
    app_tokens = AccessToken.objects.for_tenant(client.tenant).filter(
        application=client, grant_type="client_credentials"
    )
    # exclude(user_id=...) keeps out only that owner's: tokens issued while it had none go too.
    former = (
        app_tokens.exclude(user__isnull=True)
        if client.user_id is None
        else app_tokens.exclude(user_id=client.user_id)
    )
    return _revoke(former, timezone.now())


def revoke_tenant_tokens_quietly(tenant: Tenant) -> int:
    count = _revoke_owned(tenant, Q())
    Grant.objects.for_tenant(tenant).filter(redeemed__isnull=True).delete()
    return count


def _revoke_owned(tenant: Tenant, owner: Q, *, exclude_app_tokens: bool = False) -> int:
    now = timezone.now()
    access = AccessToken.objects.for_tenant(tenant).filter(owner)
    if exclude_app_tokens:
        access = access.exclude(grant_type="client_credentials")
    return _revoke(RefreshToken.objects.for_tenant(tenant).filter(owner), now) + _revoke(access, now)


def _revoke(queryset, now) -> int:
    return queryset.filter(revoked__isnull=True).update(revoked=now, updated=now)


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
    # A redeemed code stays while a token issued from it does: a replay must still revoke it.
    codes = Grant.objects.all_tenants().filter(expires__lte=now, access_tokens__isnull=True)
    deleted["authorization codes"] = codes.delete()[0]
    deleted["ID tokens"] = IDToken.objects.all_tenants().filter(expires__lte=now).delete()[0]
    return deleted


@transaction.atomic
def revoke_code_tokens(grant: Grant, *, actor: str) -> int:
    """Revoke the tokens issued from authorization code ``grant``, and every rotation of their
    refresh tokens: the code was replayed (RFC 6749 §4.1.2). Return the count."""
    tenant, now = grant.tenant, timezone.now()
    access = AccessToken.objects.for_tenant(tenant).filter(code_grant=grant)
    refresh = RefreshToken.objects.for_tenant(tenant)
    families = refresh.filter(access_token__in=access).values_list("token_family", flat=True)
    family = RefreshToken.objects.for_tenant(tenant).filter(token_family__in=list(families))
    family_access = AccessToken.objects.for_tenant(tenant).filter(
        pk__in=list(family.exclude(access_token=None).values_list("access_token_id", flat=True))
    )
    count = _revoke(family, now) + _revoke(access, now) + _revoke(family_access, now)
    audit.record(
        "code.replayed",
        actor=actor,
        tenant=tenant.domain,
        client_id=grant.application.client_id,
        tokens_revoked=count,
    )
    return count
