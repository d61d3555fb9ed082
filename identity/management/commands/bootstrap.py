from django.core.management.base import BaseCommand

from deployment.current import get_deployment
from identity.bootstrap import bootstrap


class Command(BaseCommand):
    help = "Create the super tenant, its admin and (with [demo] enabled) the demo data. Idempotent."

    def handle(self, *args, **options):
        report = bootstrap()
        for item in report.created:
            self.stdout.write(f"created {item}")
        server = get_deployment().server
        base = f"{get_deployment().scheme}://{server.hostname}:{server.port}"
        self.stdout.write(f"admin site: {base}/admin/")
        for line in report.credentials:
            self.stdout.write(f"  sign in as {line}")
