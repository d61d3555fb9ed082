"""oauthlib's server with the project's per-client token lifetimes and formats."""

from oauthlib.common import generate_token
from oauthlib.oauth2 import Server

from identity.oauth.jwt_tokens import AccessTokenGenerator
from identity.oauth.lifetimes import access_token_lifetime


class TenantServer(Server):
    def __init__(self, request_validator, **kwargs):
        kwargs["token_expires_in"] = access_token_lifetime
        kwargs["token_generator"] = AccessTokenGenerator(request_validator)
        # Refresh tokens stay opaque (oauthlib would reuse the access token generator).
        kwargs["refresh_token_generator"] = generate_token
        super().__init__(request_validator, **kwargs)
