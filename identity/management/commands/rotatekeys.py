from django.core.management.base import BaseCommand, CommandError

from identity.keys import rotate
from identity.models import SigningKey
from tenants.models import Tenant


class Command(BaseCommand):
    help = "Give a tenant a new signing key; old keys stay in its JWKS until their tokens expire."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="the tenant domain")
        parser.add_argument(
            "--algorithm", choices=SigningKey.Algorithm.values, help="default: the current key's"
        )

    def handle(self, *args, tenant, algorithm=None, **options):
        found = Tenant.objects.filter(domain=tenant).first()
        if found is None:
            raise CommandError(f"tenant '{tenant}' does not exist")
        key = rotate(found, algorithm)
        self.stdout.write(f"tenant {found.domain} now signs with {key.algorithm} key {key.kid}")
