from django.core.management.base import BaseCommand

from identity.management.commands._support import ACTOR, client_named, tenant_named, user_named
from identity.services.tokens import revoke_client_tokens, revoke_user_tokens


class Command(BaseCommand):
    help = "Revoke every access and refresh token of a user or of a client."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="the tenant domain")
        whose = parser.add_mutually_exclusive_group(required=True)
        whose.add_argument("--user", help="the username in the tenant")
        whose.add_argument("--client", help="the client id")

    def handle(self, *args, tenant, user, client, **options):
        found = tenant_named(tenant)
        if user is not None:
            owner = user_named(found, user)
            count = revoke_user_tokens(owner, actor=ACTOR)
            whose = f"user {owner.qualified_name}"
        else:
            owner = client_named(found, client)
            count = revoke_client_tokens(owner, actor=ACTOR)
            whose = f"client {owner.client_id} of tenant {found.domain}"
        self.stdout.write(f"revoked {count} token(s) of {whose}")
