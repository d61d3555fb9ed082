"""Record each existing tenant's admin: the user ``createclient`` took as default owner until
now, the first one holding the role named "admin". New tenants record theirs when made."""

from django.db import migrations


def record_admins(apps, schema_editor):
    Tenant = apps.get_model("tenants", "Tenant")
    User = apps.get_model("identity", "User")
    for tenant in Tenant.objects.filter(admin__isnull=True):
        admin = User.objects.for_tenant(tenant).filter(roles__name="admin").order_by("pk").first()
        if admin is not None:
            Tenant.objects.filter(pk=tenant.pk).update(admin=admin)


class Migration(migrations.Migration):
    dependencies = [
        ("identity", "0005_grant_redirect_uri_defaulted"),
        ("tenants", "0002_tenant_admin"),
    ]

    operations = [migrations.RunPython(record_admins, migrations.RunPython.noop)]
