"""Checks run on every token request once oauthlib has validated it, before a token is made.

Registered as oauthlib ``post_token`` custom validators (identity.oauth.oauthlib_server), the seam
oauthlib documents for this; each raises an RFC 6749 §5.2 error or narrows the request.
"""

from __future__ import annotations

from django.utils import timezone
from oauthlib.oauth2.rfc6749 import errors

from deployment.current import get_deployment
from identity.models import Grant
from identity.oauth.scopes import held_scopes, is_internal


def subject_may_hold_tokens(request) -> None:
    """A locked or inactive user gets no token from a code or a refresh token (RFC 6749 §5.2
    ``invalid_grant``: the grant was issued to someone who may no longer use it)."""
    if request.grant_type in ("authorization_code", "refresh_token"):
        user = request.user
        if user is None or not user.can_authenticate:
            raise errors.InvalidGrantError(description="the resource owner may not sign in", request=request)


def grant_only_allowed_scopes(request) -> None:
    """Leave out of a token made from an earlier grant (a code, a refresh token) the scopes its
    client is no longer allowed; the token is issued with the rest, and the answer names them
    (RFC 6749 §3.3). The other grants check the scopes asked against the client's list
    (``invalid_scope``)."""
    if request.grant_type in ("authorization_code", "refresh_token"):
        allowed = set(request.client.allowed_scopes)
        request.scopes = [scope for scope in request.scopes or () if scope in allowed]


def grant_only_held_internal_scopes(request) -> None:
    """Leave out the ``internal_*`` scopes whose permission the token's subject does not hold
    now, as WSO2 does; the token is issued with the rest. The subject is the user, or the
    client's owner for ``client_credentials``."""
    if not any(is_internal(scope) for scope in request.scopes or ()):
        return  # no query for the owner on the common path
    holder = request.client.user if request.grant_type == "client_credentials" else request.user
    request.scopes = held_scopes(holder, request.scopes, get_deployment())


def resource_within_audiences(request) -> None:
    """RFC 8707 §2: a client with configured ``audiences`` may ask only for those as
    ``resource`` (``invalid_target`` otherwise), and so may the resources a code or a refresh
    token carries over when the request names none; a client without may ask for any."""
    audiences = set(request.client.audiences)
    if not audiences:
        return
    named = [value for key, value in (request.decoded_body or []) if key == "resource"]
    outside = sorted(set(named or _carried_resources(request)) - audiences)
    if outside:
        raise errors.CustomOAuth2Error(
            error="invalid_target",
            description=f"resource {', '.join(outside)} is not an audience of this client",
            request=request,
        )


def _carried_resources(request) -> list[str]:
    """Return the resources the code or refresh token being redeemed was granted (the toolkit
    carries them over to the new token when the request names none, RFC 8707 §2.2)."""
    earlier = getattr(request, "code_grant", None) or getattr(request, "refresh_token_instance", None)
    return list(earlier.resource or []) if earlier is not None else []


def redeem_code(request) -> None:
    """Mark the authorization code used, once: a concurrent second exchange loses here and
    counts as a replay (RFC 6749 §4.1.2)."""
    if request.grant_type != "authorization_code":
        return
    grant = request.code_grant
    claimed = Grant.objects.for_tenant(request.client.tenant).filter(pk=grant.pk, redeemed__isnull=True)
    if not claimed.update(redeemed=timezone.now()):
        raise errors.InvalidGrantError(description="the authorization code was already used", request=request)


POST_TOKEN = (
    subject_may_hold_tokens,
    resource_within_audiences,
    grant_only_allowed_scopes,
    grant_only_held_internal_scopes,
    redeem_code,
)
