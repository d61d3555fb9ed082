"""The OAuth core's models, one module per concern."""

from identity.models.users import Role, User

__all__ = ["Role", "User"]
