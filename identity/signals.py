"""Keep tenant data consistent: a user's roles come from the user's own tenant, a disabled
user, client or tenant holds no live token, and a client's app tokens act for its owner only."""

from django.core.exceptions import ValidationError
from django.db.models.signals import m2m_changed, post_save
from django.dispatch import receiver

from identity.models import Client, Role, User
from identity.services.tokens import (
    revoke_client_tokens_quietly,
    revoke_former_owners_app_tokens,
    revoke_tenant_tokens_quietly,
    revoke_user_tokens_quietly,
)
from tenants.models import Tenant


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


# Whatever path locks, deactivates a user, a client or a tenant (the services, the admin's
# change forms, a shell), its tokens are revoked in the same transaction: they are inactive from
# that moment and stay so when it is unlocked or activated again (docs/token-storage.md). The
# services revoke first and count; by the time this runs there is nothing left to revoke.


def _touches(update_fields, *names: str) -> bool:
    return update_fields is None or bool(set(update_fields) & set(names))


@receiver(post_save, sender=User)
def revoke_tokens_of_disabled_user(sender, instance: User, update_fields=None, raw=False, **kwargs) -> None:
    if not raw and not instance.can_authenticate and _touches(update_fields, "is_active", "is_locked"):
        revoke_user_tokens_quietly(instance)


@receiver(post_save, sender=Client)
def revoke_tokens_of_inactive_client(
    sender, instance: Client, created=False, update_fields=None, raw=False, **kwargs
) -> None:
    if raw or created:
        return
    if not instance.active and _touches(update_fields, "active"):
        revoke_client_tokens_quietly(instance)
    elif _touches(update_fields, "user"):  # a client that changed hands
        revoke_former_owners_app_tokens(instance)


@receiver(post_save, sender=Tenant)
def revoke_tokens_of_inactive_tenant(
    sender, instance: Tenant, update_fields=None, raw=False, **kwargs
) -> None:
    if not raw and not instance.active and _touches(update_fields, "active"):
        revoke_tenant_tokens_quietly(instance)
