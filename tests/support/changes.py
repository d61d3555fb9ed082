"""Changes to the rows an introspection answer is built from, made through the services (each
announced on the change bus), for the tests that check an answer kept before Django (a
replayed one, a caller's pass) follows them. Each takes the introspection world
(``tests.support.worlds.introspection_world``)."""

from __future__ import annotations

from identity.services import clients as client_services
from identity.services import users as user_services
from tests.support.introspection import SUPER


def deactivate_client(world) -> None:
    """The super tenant's demo client: its tokens, and its own credential as a caller."""
    client_services.deactivate_client(world.clients[SUPER], actor="test")


def change_viewers_password(world) -> None:
    user_services.set_password(world.users[SUPER]["viewer"], "new-password-1", actor="test")


def remove_viewers_permissions(world) -> None:
    user_services.set_roles(world.users[SUPER]["viewer"], [], actor="test")
