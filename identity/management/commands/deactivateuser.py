from django.core.management.base import BaseCommand

from identity.management.commands._support import ACTOR, tenant_named, user_named
from identity.services.users import deactivate_user


class Command(BaseCommand):
    help = "Deactivate a user: it can no longer authenticate, and its tokens are revoked."

    def add_arguments(self, parser):
        parser.add_argument("username", help="the username in the tenant (without @tenant)")
        parser.add_argument("--tenant", required=True, help="the tenant domain")

    def handle(self, *args, username, tenant, **options):
        user = user_named(tenant_named(tenant), username)
        deactivate_user(user, actor=ACTOR)
        self.stdout.write(f"deactivated user {user.qualified_name}")
