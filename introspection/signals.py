"""Forget cached callers, clients and users when a user, role, client, bearer token or tenant
changes: a changed password, a removed permission, a rotated secret, a revoked token, a
deactivated tenant take effect at once in this process (and within
``introspection.cache.CALLER_CACHE_SECONDS`` in the others)."""

from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from identity.models import AccessToken, Client, Role, User
from introspection.cache import callers, clear_all
from tenants.models import Tenant


@receiver(post_save, sender=User)
@receiver(post_delete, sender=User)
@receiver(post_save, sender=Role)
@receiver(post_delete, sender=Role)
@receiver(m2m_changed, sender=User.roles.through)
@receiver(post_save, sender=Client)
@receiver(post_delete, sender=Client)
@receiver(post_delete, sender=AccessToken)
@receiver(post_save, sender=Tenant)
@receiver(post_delete, sender=Tenant)
def forget_callers(**kwargs) -> None:
    clear_all()


@receiver(post_save, sender=AccessToken)
def forget_callers_on_token_change(created: bool, **kwargs) -> None:
    # New tokens are the common case and change no caller; a revocation is a change.
    if not created:
        callers.clear()
