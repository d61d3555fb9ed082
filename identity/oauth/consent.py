"""Whether a user already consented to a client, for ``approval_prompt=auto`` (RFC 6749 §4.1.1).

The toolkit approves an ``auto`` request silently when the user holds any unexpired access
token of the client covering the scopes, whatever made it: a password-grant token (no consent
was ever shown) or a revoked one would do. Here only a live token that came from an earlier
consent (the authorization_code grant) counts; otherwise the consent page is shown.
"""

from __future__ import annotations

from django.utils import timezone

from identity.models import AccessToken, Client

CONSENTED_GRANT = "authorization_code"


def has_consented(user, client: Client, scopes: set[str]) -> bool:
    """Return whether ``user`` consented to ``client`` for ``scopes`` and it still stands."""
    if not user.is_authenticated:
        return False
    tokens = AccessToken.objects.for_tenant(client.tenant).filter(
        user=user,
        application=client,
        grant_type=CONSENTED_GRANT,
        revoked__isnull=True,
        expires__gt=timezone.now(),
    )
    return any(scopes <= set(scope.split()) for scope in tokens.values_list("scope", flat=True))
