"""oauthlib's server with the project's per-client token lifetimes."""

from oauthlib.oauth2 import Server

from identity.oauth.lifetimes import access_token_lifetime


class TenantServer(Server):
    def __init__(self, request_validator, **kwargs):
        kwargs["token_expires_in"] = access_token_lifetime
        super().__init__(request_validator, **kwargs)
