"""First-run set-up from deployment.toml: the super tenant, its admin, the demo data (docs/quickstart.md).

Idempotent: what exists is reused, never changed, so ``make run`` can run it every time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction

from deployment.current import get_deployment
from deployment.schema import DEMO_TENANT
from identity.models import Client, SigningKey, User
from identity.provisioning import create_admin, create_tenant
from identity.services.clients import ClientSpec, create_client
from tenants.models import Tenant

DEMO_ADMIN = ("admin", "admin")
# The client of the WSO2 document (docs/quickstart.md), registered in the super tenant and in foo.com.
DEMO_CLIENT = ClientSpec(
    name="Demo client",
    client_id="rgfKVdnMQnJSSr_pKFTxj3apiwYa",
    client_secret="BRebJ0aqfclQB9v7yZwhj0JfW0ga",
    grant_types=["client_credentials", "password", "refresh_token"],
    # No owner named: the tenant's admin as recorded when it was made ([super_admin] username in
    # the super tenant, which need not be "admin"; none without create_admin_account).
    scopes=["test1", "test2", "internal_oauth2_introspect"],
)


@dataclass
class BootstrapReport:
    created: list[str] = field(default_factory=list)
    credentials: list[str] = field(default_factory=list)


@transaction.atomic
def bootstrap() -> BootstrapReport:
    """Create what deployment.toml asks for and is missing; say what was created."""
    deployment = get_deployment()
    report = BootstrapReport()
    domain = deployment.tenant.super_tenant_domain
    super_tenant = Tenant.objects.filter(domain=domain).first()
    if super_tenant is None:
        super_tenant = Tenant.objects.create(domain=domain, name="Super tenant")
        report.created.append(f"tenant {domain}")
    if not SigningKey.objects.for_tenant(super_tenant).exists():
        SigningKey.generate(super_tenant)
        report.created.append(f"signing key of {domain}")
    admin = deployment.super_admin
    if admin.create_admin_account:
        if not User.objects.for_tenant(super_tenant).filter(username=admin.username).exists():
            created = create_admin(super_tenant, admin.username, admin.password)
            if super_tenant.admin_id is None:
                super_tenant.admin = created
                super_tenant.save(update_fields=["admin"])
            report.created.append(f"user {admin.username}@{domain} (superuser)")
        report.credentials.append(f"{admin.username} (password from [super_admin])")
    if deployment.demo.enabled:
        if not Tenant.objects.filter(domain=DEMO_TENANT).exists():
            username, password = DEMO_ADMIN
            create_tenant(DEMO_TENANT, admin_username=username, admin_password=password, name="Demo tenant")
            report.created.append(f"tenant {DEMO_TENANT} with user {username}@{DEMO_TENANT}")
        report.credentials.append(f"{DEMO_ADMIN[0]}@{DEMO_TENANT} / {DEMO_ADMIN[1]} (demo)")
        for tenant in (super_tenant, Tenant.objects.get(domain=DEMO_TENANT)):
            if not Client.objects.for_tenant(tenant).filter(client_id=DEMO_CLIENT.client_id).exists():
                create_client(tenant, DEMO_CLIENT)
                report.created.append(f"client {DEMO_CLIENT.client_id} in {tenant.domain}")
    return report
