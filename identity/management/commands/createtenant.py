from django.core.management.base import BaseCommand

from identity.management.commands._support import ACTOR, refused
from identity.services.tenants import create_tenant


class Command(BaseCommand):
    help = "Create a tenant, its admin (holding /permission/admin) and its signing key."

    def add_arguments(self, parser):
        parser.add_argument("domain", help="the tenant domain, e.g. foo.com")
        parser.add_argument("--admin", required=True, help="the admin's username")
        parser.add_argument("--password", required=True, help="the admin's password")
        parser.add_argument("--name", default="", help="a display name")

    def handle(self, *args, domain, admin, password, name, **options):
        with refused(f"tenant '{domain}' not created"):
            tenant = create_tenant(
                domain, admin_username=admin, admin_password=password, name=name, actor=ACTOR
            )
        self.stdout.write(f"created tenant {tenant.domain} with admin {admin}@{tenant.domain}")
