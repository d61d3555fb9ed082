from django.core.management.base import BaseCommand

from identity.management.commands._support import ACTOR, refused, tenant_named
from identity.services.users import create_user


class Command(BaseCommand):
    help = "Create a user in a tenant, optionally with permission paths."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--tenant", required=True, help="the tenant domain")
        parser.add_argument("--password", required=True)
        parser.add_argument(
            "--permission",
            nargs="+",
            action="extend",
            default=[],
            metavar="PATH",
            help="permission paths such as /permission/admin/manage/identity/applicationmgt/view",
        )

    def handle(self, *args, username, tenant, password, permission, **options):
        found = tenant_named(tenant)
        with refused("user not created"):
            user = create_user(found, username, password, permissions=permission, actor=ACTOR)
        self.stdout.write(f"created user {user.qualified_name}")
