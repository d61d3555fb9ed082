from django.core.management.base import BaseCommand

from identity.management.commands._support import ACTOR, refused, tenant_named
from identity.services.tenants import deactivate_tenant


class Command(BaseCommand):
    help = "Deactivate a tenant: its paths answer 404, its users cannot sign in, its tokens are revoked."

    def add_arguments(self, parser):
        parser.add_argument("domain", help="the tenant domain, e.g. foo.com")

    def handle(self, *args, domain, **options):
        tenant = tenant_named(domain)
        with refused(f"tenant {domain} not deactivated"):
            deactivate_tenant(tenant, actor=ACTOR)
        self.stdout.write(f"deactivated tenant {domain}")
