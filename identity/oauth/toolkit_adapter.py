"""The one place that reaches under django-oauth-toolkit's public seams.

Written against django-oauth-toolkit 3.4.1 (``oauth2_provider/oauth2_validators.py``). Every
other module extends the toolkit through its documented seams: ``OAuth2Validator``'s public
hooks, its settings, the swappable models, oauthlib's custom validators and its request.

Two things have no public seam, so they live here, and ``tests/test_toolkit_adapter.py`` fails
if the toolkit's behaviour under them changes:

- **The token rows.** ``OAuth2Validator._save_bearer_token`` builds the access and refresh token
  rows in ``_create_access_token`` and ``_create_refresh_token``; no hook or signal sees both the
  oauthlib request and the row before it is saved. Ours records what the request knows: the
  grant type, the authorization code it came from, the audience, the moment its expiry was
  computed, a JWT's ``jti``, and the refresh token family's end.
- **RFC 8707 resources.** The toolkit reads and checks ``resource`` in
  ``_check_and_set_request_resource`` while it saves the token; a JWT access token needs them
  earlier, when its claims are signed (:func:`requested_resources`).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import jwt
from oauth2_provider.oauth2_validators import OAuth2Validator

from deployment.current import get_deployment
from identity.models import AccessToken
from identity.oauth.lifetimes import refresh_token_lifetime


def requested_resources(validator: OAuth2Validator, request) -> list[str]:
    """Return the RFC 8707 resources of the token request, as the toolkit will record them on
    the token's row (it normalises, checks and narrows them to the grant's; ``invalid_target``
    otherwise)."""
    validator._check_and_set_request_resource(request)
    return list(request.resource)


class ToolkitRowsValidator(OAuth2Validator):
    """``OAuth2Validator`` whose token rows carry what our models add to the toolkit's."""

    def _create_access_token(self, expires, request, token, source_refresh_token=None) -> AccessToken:
        if request.grant_type == "client_credentials":
            # The toolkit leaves the user out; an app token is authorized as the client's owner.
            request.user = request.client.user
        access_token = AccessToken(
            tenant_id=request.client.tenant_id,
            user=request.user,
            scope=token["scope"],
            # Issued when its expiry was computed: exp - iat is exactly expires_in (a row's own
            # default would be a moment later, and the two truncated seconds could differ by one).
            created=expires - timedelta(seconds=token["expires_in"]),
            expires=expires,
            application=request.client,
            source_refresh_token=source_refresh_token,
            grant_type=request.grant_type,
            resource=getattr(request, "resource", None) or list(request.client.audiences),
            code_grant=getattr(request, "code_grant", None),
        )
        if request.client.token_format == request.client.TokenFormat.JWT:
            _record_jwt_claims(access_token, token["access_token"], token["expires_in"])
        self._set_token_value(access_token, token["access_token"])
        access_token.save()
        return access_token

    def _create_refresh_token(self, request, refresh_token_code, access_token, previous_refresh_token):
        refresh_token = super()._create_refresh_token(
            request, refresh_token_code, access_token, previous_refresh_token
        )
        # RFC 9700 §4.14.2: rotation slides the expiry, never past the family's end.
        family_expires = getattr(previous_refresh_token, "family_expires", None) or (
            refresh_token.created + timedelta(seconds=get_deployment().oauth.refresh_token_max_lifetime)
        )
        own_expiry = refresh_token.created + timedelta(seconds=refresh_token_lifetime(request.client))
        refresh_token.family_expires = family_expires
        refresh_token.expires = min(own_expiry, family_expires)
        refresh_token.save(update_fields=["expires", "family_expires"])
        return refresh_token


def _record_jwt_claims(row: AccessToken, signed: str, expires_in: int) -> None:
    """Make the row of a JWT access token (RFC 9068) say what its claims say: ``jti``, ``iat``
    and ``aud``. The JWT was signed a moment ago by identity.oauth.jwt_tokens, so its claims are
    read without checking the signature again."""
    claims = jwt.decode(signed, options={"verify_signature": False})
    row.jti = uuid.UUID(claims["jti"])
    row.created = datetime.fromtimestamp(claims["iat"], UTC)
    row.expires = row.created + timedelta(seconds=expires_in)
    audience = claims["aud"]
    row.resource = audience if isinstance(audience, list) else [audience]
