"""Token lifetimes: the client's own, else ``[oauth] access_token_validity`` /
``refresh_token_validity`` (docs/clients-and-grants.md, docs/deployment-toml.md)."""

from __future__ import annotations

from deployment.current import get_deployment


def access_token_lifetime(request) -> int:
    """Return the ``expires_in`` of an access token issued to ``request.client`` (oauthlib hook)."""
    client = getattr(request, "client", None)
    if client is not None and client.access_token_lifetime:
        return client.access_token_lifetime
    return get_deployment().oauth.access_token_validity


def refresh_token_lifetime(client) -> int:
    """Return how long a refresh token issued to ``client`` lives, in seconds."""
    if client.refresh_token_lifetime:
        return client.refresh_token_lifetime
    return get_deployment().oauth.refresh_token_validity
