"""Invalidate the tenant cache whenever a tenant changes (SPEC §3)."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from tenants.models import Tenant, clear_tenant_cache


@receiver(post_save, sender=Tenant)
@receiver(post_delete, sender=Tenant)
def tenant_changed(**kwargs) -> None:
    clear_tenant_cache()
