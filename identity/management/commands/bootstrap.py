from django.core.management.base import BaseCommand

from identity.bootstrap import bootstrap
from identity.oauth.issuer import server_origin


class Command(BaseCommand):
    help = "Create the super tenant, its admin and (with [demo] enabled) the demo data. Idempotent."

    def handle(self, *args, **options):
        report = bootstrap()
        for item in report.created:
            self.stdout.write(f"created {item}")
        self.stdout.write(f"admin site: {server_origin()}/admin/")
        for line in report.credentials:
            self.stdout.write(f"  sign in as {line}")
