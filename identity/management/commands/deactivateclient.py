from django.core.management.base import BaseCommand

from identity.management.commands._support import ACTOR, client_named, tenant_named
from identity.services.clients import deactivate_client


class Command(BaseCommand):
    help = "Deactivate an OAuth client: it can no longer authenticate, and its tokens are revoked."

    def add_arguments(self, parser):
        parser.add_argument("client_id")
        parser.add_argument("--tenant", required=True, help="the tenant domain")

    def handle(self, *args, client_id, tenant, **options):
        client = client_named(tenant_named(tenant), client_id)
        deactivate_client(client, actor=ACTOR)
        self.stdout.write(f"deactivated client {client.client_id} of tenant {client.tenant.domain}")
