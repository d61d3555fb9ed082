"""oauthlib's server with the project's per-client token lifetimes and formats, and the checks
of identity.oauth.issuance run on every token request."""

from oauthlib.oauth2 import Server
from oauthlib.oauth2.rfc6749.tokens import random_token_generator

from identity.oauth.issuance import POST_TOKEN
from identity.oauth.jwt_tokens import AccessTokenGenerator
from identity.oauth.lifetimes import access_token_lifetime


class TenantServer(Server):
    def __init__(self, request_validator, **kwargs):
        kwargs["token_expires_in"] = access_token_lifetime
        kwargs["token_generator"] = AccessTokenGenerator(request_validator)
        # Refresh tokens stay opaque (oauthlib would reuse the access token generator). The
        # generator is called with the request, so not oauthlib.common.generate_token itself.
        kwargs["refresh_token_generator"] = random_token_generator
        super().__init__(request_validator, **kwargs)
        for grant in (self.auth_grant, self.password_grant, self.credentials_grant, self.refresh_grant):
            grant.custom_validators.post_token.extend(POST_TOKEN)
