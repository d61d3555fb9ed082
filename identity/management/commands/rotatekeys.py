from django.core.management.base import BaseCommand, CommandError

from identity.management.commands._support import ACTOR, tenant_named
from identity.models import SigningKey
from identity.services.keys import rotate_key
from identity.signing import KeyLimitReached


class Command(BaseCommand):
    help = "Give a tenant a new signing key; old keys stay in its JWKS until their tokens expire."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="the tenant domain")
        parser.add_argument(
            "--algorithm", choices=SigningKey.Algorithm.values, help="default: the current key's"
        )

    def handle(self, *args, tenant, algorithm=None, **options):
        found = tenant_named(tenant)
        try:
            key = rotate_key(found, algorithm=algorithm, actor=ACTOR)
        except KeyLimitReached as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"tenant {found.domain} now signs with {key.algorithm} key {key.kid}")
