from django.core.management.base import BaseCommand

from identity.services.tokens import clear_expired


class Command(BaseCommand):
    help = "Delete expired tokens and authorization codes of every tenant."

    def handle(self, *args, **options):
        for kind, count in clear_expired().items():
            self.stdout.write(f"deleted {count} {kind}")
