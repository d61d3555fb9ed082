"""``username`` and ``sub`` of an introspection response (docs/introspection.md#the-subject-identifier, the
WSO2 document's
``validation_response_subject_identifier_format``), and the subject of a JWT access token."""

from __future__ import annotations

from deployment import OAuthConfig
from identity.models import AccessToken, RefreshToken
from identity.models.users import PRIMARY_USER_STORE
from tenants.models import Tenant


def subject_claims(token: AccessToken | RefreshToken, oauth: OAuthConfig) -> dict[str, str]:
    """Return the ``username`` and ``sub`` claims of ``token``; absent facts stay absent."""
    claims: dict[str, str] = {}
    is_app_token = isinstance(token, AccessToken) and token.is_app_token
    if token.user_id is not None:
        name = user_subject(token.user, token.application, oauth)
        if not (is_app_token and oauth.remove_username_from_introspection_response_for_app_tokens):
            claims["username"] = name
        if not is_app_token:
            claims["sub"] = name
    if is_app_token:
        # an app token's subject is the client (docs/introspection.md#the-subject-identifier)
        claims["sub"] = token.application.client_id
    return claims


def user_subject(user, client, oauth: OAuthConfig) -> str:
    """Return how ``user`` is named to resource servers of ``client``
    (docs/introspection.md#the-subject-identifier)."""
    domain = Tenant.objects.get_by_id(user.tenant_id).domain
    if oauth.validation_response_subject_identifier_format == "fqn":
        return f"{user.username}@{domain}"
    name = user.username
    # the one user store there is (docs/introspection.md#the-subject-identifier)
    user_store = PRIMARY_USER_STORE
    if client.use_user_store_domain_in_local_subject_identifier and user_store != PRIMARY_USER_STORE:
        name = f"{user_store.upper()}/{name}"
    if client.use_tenant_domain_in_local_subject_identifier:
        name = f"{name}@{domain}"
    return name
