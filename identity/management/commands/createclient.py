import json

from django.core.management.base import BaseCommand, CommandError

from identity.management.commands._support import ACTOR, refused, tenant_named
from identity.models import Client
from identity.models.clients import GRANT_TYPES
from identity.services.clients import ClientSpec, create_client


def _many(parser, flag, **kwargs):
    """An option taking several space-separated values, and repeatable (docs/commands.md)."""
    parser.add_argument(flag, nargs="+", action="extend", default=[], **kwargs)


class Command(BaseCommand):
    help = "Register an OAuth client in a tenant; prints {client_id, client_secret} as JSON."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="the tenant domain")
        parser.add_argument("--name", required=True)
        _many(parser, "--grant-types", metavar="GRANT", help=f"of: {', '.join(GRANT_TYPES)}")
        parser.add_argument("--client-id", default="")
        parser.add_argument("--client-secret", default="", help="default: a generated full-entropy secret")
        parser.add_argument("--public", action="store_true", help="a public client (no secret)")
        parser.add_argument(
            "--owner", default="", help="username in the tenant (default: the admin made with the tenant)"
        )
        _many(parser, "--scopes", metavar="SCOPE")
        _many(parser, "--redirect-uris", metavar="URI")
        _many(parser, "--audiences", metavar="AUDIENCE")
        parser.add_argument("--token-format", choices=Client.TokenFormat.values, default="opaque")
        _many(parser, "--scripts", metavar="NAME", help="[[oauth.introspect.script]] names, in order")
        parser.add_argument("--run-scripts-before-jwt", action="store_true")
        parser.add_argument("--use-tenant-domain-in-subject", action="store_true")
        parser.add_argument("--use-user-store-domain-in-subject", action="store_true")

    def handle(self, *args, **options):
        tenant = tenant_named(options["tenant"])
        if not options["grant_types"]:
            raise CommandError(f"give --grant-types (some of {', '.join(GRANT_TYPES)})")
        if options["public"] and options["client_secret"]:
            raise CommandError("a --public client has no secret: drop --client-secret")
        if not options["owner"] and tenant.admin_id is None:
            raise CommandError(
                f"tenant {tenant.domain} has no admin on record (none was made with it, or it was deleted): "
                "give --owner USERNAME"
            )
        spec = ClientSpec(
            name=options["name"],
            grant_types=options["grant_types"],
            client_id=options["client_id"],
            client_secret=options["client_secret"],
            public=options["public"],
            owner=options["owner"],
            scopes=options["scopes"],
            redirect_uris=options["redirect_uris"],
            audiences=options["audiences"],
            token_format=options["token_format"],
            scripts=options["scripts"],
            run_scripts_before_jwt=options["run_scripts_before_jwt"],
            use_tenant_domain_in_subject=options["use_tenant_domain_in_subject"],
            use_user_store_domain_in_subject=options["use_user_store_domain_in_subject"],
        )
        with refused("client not created"):
            client, secret = create_client(tenant, spec, actor=ACTOR)
        self.stdout.write(json.dumps({"client_id": client.client_id, "client_secret": secret or None}))
