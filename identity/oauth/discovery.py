"""Authorization server metadata (RFC 8414) and the JSON Web Key Set (RFC 7517) of a tenant.

Served at ``{issuer}/.well-known/openid-configuration`` (what the Janssen document reads) and
at the RFC 8414 §3 location ``/.well-known/oauth-authorization-server[/t/<tenant>]``.
"""

from __future__ import annotations

from django.http import JsonResponse
from django.views.decorators.http import require_safe

from deployment import BASIC_CLIENT_HANDLER, BASIC_USER_HANDLER, BEARER_HANDLER
from identity.models import Client, SigningKey
from identity.models.clients import GRANT_TYPES
from identity.oauth.issuer import endpoint, issuer
from tenants import get_current_tenant
from tenants.access_control import allowed_auth_handlers, match_entry
from tenants.errors import UnknownTenant, error_response
from tenants.models import Tenant

# Scopes only holders of a permission get (internal_oauth2_introspect...): not advertised.
INTERNAL_SCOPE_PREFIX = "internal_"

CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

# How each introspection caller handler (docs/introspection.md#callers) authenticates, for the metadata.
INTROSPECTION_AUTH_METHODS = {
    BASIC_CLIENT_HANDLER: "client_secret_basic",
    BASIC_USER_HANDLER: "basic",  # a user's name and password (not in RFC 8414's registry)
    BEARER_HANDLER: "bearer",  # an access token with the introspection scope
}


def metadata(tenant: Tenant, request=None) -> dict:
    """Return the metadata of ``tenant``; lists that would be empty are left out."""
    introspect_path = tenant.path_prefix + "/oauth2/introspect"
    handlers = allowed_auth_handlers(match_entry(introspect_path, "POST"))
    scopes = set()
    for allowed in Client.objects.for_tenant(tenant).values_list("allowed_scopes", flat=True):
        scopes.update(allowed)
    signing = SigningKey.objects.for_tenant(tenant).filter(active=True).values_list("algorithm", flat=True)
    document = {
        "issuer": issuer(tenant, request),
        "authorization_endpoint": endpoint(tenant, "/oauth2/authorize", request),
        "token_endpoint": endpoint(tenant, "/oauth2/token", request),
        "revocation_endpoint": endpoint(tenant, "/oauth2/revoke", request),
        "introspection_endpoint": endpoint(tenant, "/oauth2/introspect", request),
        "jwks_uri": endpoint(tenant, "/oauth2/jwks", request),
        "registration_endpoint": endpoint(tenant, "/oauth2/register", request),  # RFC 7591 §3
        "grant_types_supported": list(GRANT_TYPES),
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": sorted(s for s in scopes if not s.startswith(INTERNAL_SCOPE_PREFIX)),
        "token_endpoint_auth_methods_supported": [*CLIENT_AUTH_METHODS, "none"],
        "revocation_endpoint_auth_methods_supported": [*CLIENT_AUTH_METHODS, "none"],
        "introspection_endpoint_auth_methods_supported": [INTROSPECTION_AUTH_METHODS[h] for h in handlers],
        # RFC 9701 §7: what JWT introspection responses are signed with (the tenant's key).
        "introspection_signing_alg_values_supported": sorted(set(signing)),
    }
    return {key: value for key, value in document.items() if value not in ([], "", None)}


@require_safe
def openid_configuration(request):
    """``{issuer}/.well-known/openid-configuration`` of the path's tenant."""
    return JsonResponse(metadata(get_current_tenant(request), request))


@require_safe
def authorization_server_metadata(request, domain: str | None = None):
    """RFC 8414 §3: ``/.well-known/oauth-authorization-server`` + the issuer's path."""
    tenant = get_current_tenant(request) if domain is None else Tenant.objects.get_active(domain)
    if tenant is None:
        return error_response(UnknownTenant(domain))  # as for any /t/<domain>/ path (docs/architecture.md)
    return JsonResponse(metadata(tenant, request))


@require_safe
def jwks(request):
    """RFC 7517 §5: the public keys of the tenant, current and recently rotated."""
    keys = SigningKey.objects.for_tenant(get_current_tenant(request))
    response = JsonResponse({"keys": [key.public_jwk() for key in keys if key.is_published]})
    response["Cache-Control"] = "public, max-age=300"
    return response
