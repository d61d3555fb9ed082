from django.contrib.auth.password_validation import validate_password
from django.core.management.base import BaseCommand

from identity.management.commands._support import ACTOR, refused, tenant_named, user_named
from identity.services.users import set_password


class Command(BaseCommand):
    help = "Set a user's password (stored with Django's password hashers)."

    def add_arguments(self, parser):
        parser.add_argument("username", help="the username in the tenant (without @tenant)")
        parser.add_argument("--tenant", required=True, help="the tenant domain")
        parser.add_argument("--password", required=True)

    def handle(self, *args, username, tenant, password, **options):
        user = user_named(tenant_named(tenant), username)
        with refused(f"password of {user.qualified_name} not changed"):
            validate_password(password, user)
            set_password(user, password, actor=ACTOR)
        self.stdout.write(f"password of {user.qualified_name} changed")
