"""The OAuth core's models, one module per concern."""

from identity.models.clients import Client
from identity.models.keys import SigningKey
from identity.models.throttle_counters import ThrottleCounter
from identity.models.tokens import AccessToken, Grant, IDToken, RefreshToken
from identity.models.users import Role, User

__all__ = [
    "AccessToken",
    "Client",
    "Grant",
    "IDToken",
    "RefreshToken",
    "Role",
    "SigningKey",
    "ThrottleCounter",
    "User",
]
