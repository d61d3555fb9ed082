"""django-oauth-toolkit's validator, made tenant-aware (SPEC §5).

Kept thin: the views run the toolkit inside ``use_tenant(tenant)``, so every query it makes
(clients, codes, tokens) is confined to the endpoint's tenant; a client of tenant A is simply
not found at tenant B's endpoint. The overrides below each call one small function of ours.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import authenticate
from django.utils import timezone
from oauth2_provider.oauth2_validators import OAuth2Validator

from identity import audit_events
from identity.models import AccessToken, RefreshToken
from identity.oauth.lifetimes import refresh_token_lifetime


class TenantOAuth2Validator(OAuth2Validator):
    def validate_grant_type(self, client_id, grant_type, client, request, *args, **kwargs) -> bool:
        """RFC 6749 §5.2 unauthorized_client: the grant must be in the client's list."""
        return grant_type in client.grant_types

    def authenticate_client(self, request, *args, **kwargs) -> bool:
        """RFC 6749 §2.3.1, as the toolkit does it; a failure is audited (never the secret)."""
        authenticated = super().authenticate_client(request, *args, **kwargs)
        if not authenticated:
            audit_events.client_authentication_failed(request)
        return authenticated

    def revoke_token(self, token, token_type_hint, request, *args, **kwargs) -> None:
        """RFC 7009 §2.1, as the toolkit does it; the revocation is audited with the token ids."""
        token_ids = audit_events.revoked_token_ids(request, token)
        super().revoke_token(token, token_type_hint, request, *args, **kwargs)
        audit_events.record_revocation(request, token_ids, token_type_hint)

    def validate_user(self, username, password, client, request, *args, **kwargs) -> bool:
        """Password grant (RFC 6749 §4.3): ``username`` is a user of the client's tenant."""
        user = authenticate(
            self.build_http_request(request), username=username, password=password, tenant=client.tenant
        )
        if user is None or user.tenant_id != client.tenant_id:
            return False
        request.user = user
        return True

    def save_bearer_token(self, token, request, *args, **kwargs):
        """Issue a refresh token only to a client allowed the refresh_token grant (its list, §5)."""
        if not request.client.allows_grant_type("refresh_token"):
            token.pop("refresh_token", None)  # the response is this same dict
        return super().save_bearer_token(token, request, *args, **kwargs)

    def _create_access_token(self, expires, request, token, source_refresh_token=None) -> AccessToken:
        if request.grant_type == "client_credentials":
            # §5: an app token is authorized as the client's owner.
            request.user = request.client.user
        access_token = AccessToken(
            tenant_id=request.client.tenant_id,
            user=request.user,
            scope=token["scope"],
            expires=expires,
            application=request.client,
            source_refresh_token=source_refresh_token,
            grant_type=request.grant_type,
            resource=getattr(request, "resource", None) or list(request.client.audiences),
        )
        jwt = getattr(request, "jwt", None)
        if jwt is not None:
            # A JWT access token (identity.oauth.jwt_tokens): the row says what its claims say.
            access_token.jti, access_token.created, access_token.resource = (
                jwt.jti,
                jwt.issued_at,
                jwt.audience,
            )
            access_token.expires = jwt.issued_at + timedelta(seconds=token["expires_in"])
        self._set_token_value(access_token, token["access_token"])
        access_token.save()
        return access_token

    def _create_refresh_token(self, request, refresh_token_code, access_token, previous_refresh_token):
        refresh_token = super()._create_refresh_token(
            request, refresh_token_code, access_token, previous_refresh_token
        )
        refresh_token.expires = refresh_token.created + timedelta(
            seconds=refresh_token_lifetime(request.client)
        )
        refresh_token.save(update_fields=["expires"])
        return refresh_token

    def validate_refresh_token(self, refresh_token, client, request, *args, **kwargs) -> bool:
        """RFC 6749 §6, plus the refresh token's own absolute expiry."""
        if not super().validate_refresh_token(refresh_token, client, request, *args, **kwargs):
            return False
        instance: RefreshToken = request.refresh_token_instance
        return instance.expires is None or instance.expires > timezone.now()
