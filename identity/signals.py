"""Keep tenant data consistent: a user's roles come from the user's own tenant (SPEC §4)."""

from django.core.exceptions import ValidationError
from django.db.models.signals import m2m_changed
from django.dispatch import receiver

from identity.models import Role, User


@receiver(m2m_changed, sender=User.roles.through)
def roles_of_own_tenant(sender, instance, action, pk_set, reverse, **kwargs) -> None:
    if action != "pre_add" or not pk_set:
        return
    if reverse:  # role.users.add(...): every user must be of the role's tenant
        foreign = User.objects.all_tenants().filter(pk__in=pk_set).exclude(tenant_id=instance.tenant_id)
    else:  # user.roles.add(...): every role must be of the user's tenant
        foreign = Role.objects.all_tenants().filter(pk__in=pk_set).exclude(tenant_id=instance.tenant_id)
    if foreign.exists():
        raise ValidationError("a user can only hold roles of its own tenant")
