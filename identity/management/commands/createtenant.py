from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError

from identity.provisioning import create_tenant
from tenants.models import Tenant


class Command(BaseCommand):
    help = "Create a tenant, its admin (holding /permission/admin) and its signing key."

    def add_arguments(self, parser):
        parser.add_argument("domain", help="the tenant domain, e.g. foo.com")
        parser.add_argument("--admin", required=True, help="the admin's username")
        parser.add_argument("--password", required=True, help="the admin's password")
        parser.add_argument("--name", default="", help="a display name")

    def handle(self, *args, domain, admin, password, name, **options):
        if Tenant.objects.filter(domain=domain).exists():
            raise CommandError(f"tenant '{domain}' already exists")
        try:
            tenant = create_tenant(domain, admin_username=admin, admin_password=password, name=name)
        except (ValidationError, IntegrityError) as exc:
            raise CommandError(f"tenant '{domain}' not created: {_message(exc)}") from exc
        self.stdout.write(f"created tenant {tenant.domain} with admin {admin}@{tenant.domain}")


def _message(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(exc.messages)
    return str(exc)
