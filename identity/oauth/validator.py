"""django-oauth-toolkit's validator, made tenant-aware (docs/clients-and-grants.md).

Kept thin: the views run the toolkit inside ``use_tenant(tenant)``, so every query it makes
(clients, codes, tokens) is confined to the endpoint's tenant; a client of tenant A is simply
not found at tenant B's endpoint. The overrides below are the toolkit's public hooks, each
calling one small function of ours; the rows it writes are filled in identity.oauth.toolkit_adapter.
"""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from oauthlib.oauth2.rfc6749 import errors

from identity import audit_events
from identity.models import AccessToken, Grant, RefreshToken
from identity.models.tokens import redeemed_code, token_checksum
from identity.oauth.toolkit_adapter import ToolkitRowsValidator
from identity.services import tokens as token_service


def _actor(request) -> str:
    return f"client:{request.client.client_id}"


class TenantOAuth2Validator(ToolkitRowsValidator):
    def authenticate_client(self, request, *args, **kwargs) -> bool:
        """RFC 6749 §2.3: the toolkit's check, with one method per request naming one client,
        and an inactive client fails like a wrong secret; a failure is audited (never the secret)."""
        authenticated = (
            not _uses_two_methods(request)
            and super().authenticate_client(request, *args, **kwargs)
            and request.client.active
            and not _names_another_client(request)
        )
        if not authenticated:
            audit_events.client_authentication_failed(request)
        return authenticated

    def authenticate_client_id(self, client_id, request, *args, **kwargs) -> bool:
        """A public client (RFC 6749 §2.1) must be active too."""
        return super().authenticate_client_id(client_id, request, *args, **kwargs) and request.client.active

    def validate_grant_type(self, client_id, grant_type, client, request, *args, **kwargs) -> bool:
        """RFC 6749 §5.2 unauthorized_client: the grant must be in the client's list."""
        return grant_type in client.grant_types

    def validate_user(self, username, password, client, request, *args, **kwargs) -> bool:
        """Password grant (RFC 6749 §4.3): ``username`` is an active, unlocked user of the
        client's tenant (the authentication backend refuses the others)."""
        user = authenticate(
            self.build_http_request(request), username=username, password=password, tenant=client.tenant
        )
        if user is None or user.tenant_id != client.tenant_id:
            return False
        request.user = user
        return True

    def validate_code(self, client_id, code, client, request, *args, **kwargs) -> bool:
        """RFC 6749 §4.1.2: a code is used once; a second use revokes what the first one got."""
        grants = Grant.objects.for_tenant(client.tenant).filter(application=client)
        grant = grants.filter(Q(code=code) | Q(code=redeemed_code(code))).first()
        if grant is None:
            return False
        if grant.redeemed is not None:
            token_service.revoke_code_tokens(grant, actor=_actor(request))
            return False
        check_redirect_uri(grant, request)
        request.code_grant = grant
        return super().validate_code(client_id, code, client, request, *args, **kwargs)

    def save_authorization_code(self, client_id, code, request, *args, **kwargs) -> None:
        """Record with the code whether the authorization request left redirect_uri out
        (identity.oauth.views.AuthorizationView says), for :func:`check_redirect_uri`."""
        super().save_authorization_code(client_id, code, request, *args, **kwargs)
        if request.redirect_uri_defaulted:
            Grant.objects.for_tenant(request.client.tenant).filter(
                application=request.client, code=code["code"]
            ).update(redirect_uri_defaulted=True)

    def invalidate_authorization_code(self, client_id, code, request, *args, **kwargs) -> None:
        """Keep the code's row, marked redeemed before the token was made
        (identity.oauth.issuance.redeem_code), so that a replay is recognised; the code itself
        is replaced by its digest (no usable credential stays in the database)."""
        Grant.objects.for_tenant(request.client.tenant).filter(pk=request.code_grant.pk).update(
            code=redeemed_code(code)
        )

    def validate_refresh_token(self, refresh_token, client, request, *args, **kwargs) -> bool:
        """RFC 6749 §6, plus the refresh token's own absolute expiry."""
        if not super().validate_refresh_token(refresh_token, client, request, *args, **kwargs):
            return False
        instance: RefreshToken = request.refresh_token_instance
        return instance.expires is None or instance.expires > timezone.now()

    def save_bearer_token(self, token, request, *args, **kwargs):
        """Issue a refresh token only to a client allowed the refresh_token grant (its list of
        grants); on the refresh grant, spend the presented refresh token first, once."""
        if not request.client.allows_grant_type("refresh_token"):
            token.pop("refresh_token", None)  # the response is this same dict (oauthlib says so)
        with transaction.atomic():
            if request.grant_type == "refresh_token":
                self._spend_refresh_token(request)
            saved = super().save_bearer_token(token, request, *args, **kwargs)
        if token.get("scope") == "":
            del token["scope"]  # RFC 6749 §5.1: no scope granted, none said (as WSO2 answers)
        return saved

    def _spend_refresh_token(self, request) -> None:
        """RFC 9700 §4.14.2 rotation, race-free: revoke the presented refresh token (and the
        access token issued with it) with a conditional UPDATE; of concurrent requests with the
        same token exactly one changes the row, the others get ``invalid_grant``."""
        instance: RefreshToken = request.refresh_token_instance
        tenant, now = request.client.tenant, timezone.now()
        spent = RefreshToken.objects.for_tenant(tenant).filter(pk=instance.pk, revoked__isnull=True)
        if not spent.update(revoked=now, updated=now):
            raise errors.InvalidGrantError(description="the refresh token was already used", request=request)
        AccessToken.objects.for_tenant(tenant).filter(
            pk=instance.access_token_id, revoked__isnull=True
        ).update(revoked=now, updated=now)
        instance.revoked = now

    def revoke_token(self, token, token_type_hint, request, *args, **kwargs) -> None:
        """RFC 7009 §2.1: revoke ``token`` if it was issued to the requesting client (else do
        nothing, and say nothing: the answer is 200 either way)."""
        found = _client_token(request.client, token, token_type_hint)
        if found is not None and found.revoked is None:
            token_service.revoke_token(found, actor=_actor(request))


def check_redirect_uri(grant: Grant, request) -> None:
    """RFC 6749 §4.1.3: ``redirect_uri`` is REQUIRED at the token endpoint if the authorization
    request included it, and identical; else it may be left out. ``invalid_grant`` otherwise
    (RFC 6749 §5.2), where oauthlib would say invalid_request."""
    given = request.redirect_uri  # None when left out: oauthlib fills in the default later
    if given is None and not grant.redirect_uri_defaulted:
        raise errors.InvalidGrantError(
            description="redirect_uri is required: the authorization request included it", request=request
        )
    if given is not None and given != grant.redirect_uri:
        raise errors.InvalidGrantError(
            description="redirect_uri differs from the authorization request's", request=request
        )


def _uses_two_methods(request) -> bool:
    """Return whether the request carries both a Basic credential and ``client_secret`` in its
    body. RFC 6749 §2.3: a client MUST NOT use more than one method in a request. The toolkit
    tries the body when Basic fails, so a guess in the body would be throttled as the client
    named in Basic, not as the one guessed (docs/security.md)."""
    scheme = request.headers.get("HTTP_AUTHORIZATION", "").strip().partition(" ")[0]
    return scheme.lower() == "basic" and bool(getattr(request, "client_secret", None))


def _names_another_client(request) -> bool:
    """Return whether ``client_id`` in the body names another client than the Basic credential
    authenticated: a client's mistake, which oauthlib would answer ``server_error``."""
    return bool(request.client_id) and request.client_id != request.client.client_id


def _client_token(client, token: str, hint: str | None) -> AccessToken | RefreshToken | None:
    """Return the unrevoked-first access or refresh token ``token`` of ``client``, or None;
    ``hint`` only orders the search (RFC 7009 §2.1)."""
    lookup = {"token_checksum": token_checksum(token), "application": client}
    models = (RefreshToken, AccessToken) if hint == "refresh_token" else (AccessToken, RefreshToken)
    for model in models:
        found = (
            model.objects.for_tenant(client.tenant)
            .filter(**lookup)
            .order_by(F("revoked").desc(nulls_first=True))
            .first()
        )
        if found is not None:
            return found
    return None
