from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError

from identity import permissions
from identity.models import User
from identity.provisioning import create_user
from tenants.models import Tenant


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
        found = Tenant.objects.filter(domain=tenant).first()
        if found is None:
            raise CommandError(f"tenant '{tenant}' does not exist; create it with `manage.py createtenant`")
        bad = [path for path in permission if not permissions.is_valid_path(path)]
        if bad:
            raise CommandError(
                f"not a permission path: {', '.join(bad)} (expected e.g. /permission/admin/login)"
            )
        if User.objects.for_tenant(found).filter(username=username).exists():
            raise CommandError(f"user '{username}@{tenant}' already exists")
        try:
            user = create_user(found, username, password, permission)
        except (ValidationError, IntegrityError) as exc:
            raise CommandError(f"user not created: {exc}") from exc
        self.stdout.write(f"created user {user.qualified_name}")
