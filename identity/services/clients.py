"""Register OAuth clients (docs/clients-and-grants.md, docs/commands.md ``createclient``), all or nothing."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from oauth2_provider.generators import generate_client_id, generate_client_secret

from deployment.current import get_deployment
from identity import audit
from identity.models import Client, User
from identity.services.tokens import revoke_client_tokens_quietly
from identity.services.uniqueness import claiming
from identity.services.users import check_may_act_on
from tenants.models import Tenant


@dataclass
class ClientSpec:
    name: str
    grant_types: list[str]
    client_id: str = ""
    client_secret: str = ""
    public: bool = False
    owner: str = ""  # username in the tenant; default: the tenant's admin (Tenant.admin), if any
    scopes: list[str] = field(default_factory=list)
    redirect_uris: list[str] = field(default_factory=list)
    audiences: list[str] = field(default_factory=list)
    token_format: str = Client.TokenFormat.OPAQUE
    scripts: list[str] = field(default_factory=list)
    run_scripts_before_jwt: bool = False
    use_tenant_domain_in_subject: bool = False
    use_user_store_domain_in_subject: bool = False
    access_token_lifetime: int | None = None  # seconds; None: [oauth] access_token_validity
    refresh_token_lifetime: int | None = None


@transaction.atomic
def create_client(
    tenant: Tenant, spec: ClientSpec, *, actor: str = "command", acting_user: User | None = None
) -> tuple[Client, str]:
    """Create the client; return it and its secret in clear (shown once, stored hashed).

    When ``acting_user`` is given (the API passes the caller), it must be allowed to take the
    owner's powers (``check_may_own``).
    """
    owner = _owner(tenant, spec.owner)
    check_may_own(owner, acting_user)
    client = Client(
        tenant=tenant,
        name=spec.name,
        client_id=spec.client_id or generate_client_id(),
        client_type=Client.CLIENT_PUBLIC if spec.public else Client.CLIENT_CONFIDENTIAL,
        user=owner,
        grant_types=list(dict.fromkeys(spec.grant_types)),
        allowed_scopes=list(dict.fromkeys(spec.scopes)),
        redirect_uris=" ".join(spec.redirect_uris),
        audiences=list(spec.audiences),
        token_format=spec.token_format,
        introspection_scripts=list(spec.scripts),
        run_introspection_script_before_jwt_creation=spec.run_scripts_before_jwt,
        use_tenant_domain_in_local_subject_identifier=spec.use_tenant_domain_in_subject,
        use_user_store_domain_in_local_subject_identifier=spec.use_user_store_domain_in_subject,
        access_token_lifetime=spec.access_token_lifetime,
        refresh_token_lifetime=spec.refresh_token_lifetime,
    )
    return client, register_client(client, secret=spec.client_secret, actor=actor)


@transaction.atomic
def register_client(client: Client, *, actor: str, secret: str = "") -> str:
    """Save the new ``client`` (built from a spec, or by the admin's form) with ``secret`` or a
    generated one; return the secret in clear (shown once, stored hashed), '' for a public client."""
    tenant = client.tenant
    check_scripts(tenant, client.introspection_scripts or ())
    public = client.client_type == Client.CLIENT_PUBLIC
    secret = "" if public else (secret or generate_client_secret())
    client.client_secret = secret
    taken = Client.objects.for_tenant(tenant).filter(client_id=client.client_id).exists
    error = {"client_id": f"client id '{client.client_id}' already exists in tenant {tenant.domain}"}
    with claiming(taken, error):
        client.full_clean(exclude=["client_secret"])
        client.save()  # the toolkit's ClientSecretField hashes the secret on save
    audit.record("client.created", actor=actor, tenant=tenant.domain, client_id=client.client_id)
    return secret


def check_scripts(tenant: Tenant, names) -> None:
    """Raise ValidationError (``scripts``) unless ``tenant``'s clients may bind every script of
    ``names`` (``[[oauth.introspect.script]] tenants``, docs/scripts.md)."""
    unknown = sorted(set(names) - set(get_deployment().oauth.introspect.usable_scripts(tenant.domain)))
    if unknown:
        named = ", ".join(unknown)
        raise ValidationError(
            {"scripts": f"no [[oauth.introspect.script]] named {named} for tenant {tenant.domain}"}
        )


def check_may_own(owner: User | None, acting_user: User | None) -> None:
    """Raise ValidationError (``owner``) unless ``acting_user`` may take ``owner``'s powers.

    A ``client_credentials`` token acts for the client's owner, internal scopes included
    (SPEC §4): who creates a client with an owner, or rotates its secret, takes the owner's
    powers. No escalation (SPEC §8, §14): as for setting the owner's password.
    """
    if owner is None:
        return
    try:
        check_may_act_on(owner, acting_user, taking=True)
    except (PermissionDenied, ValidationError):
        raise ValidationError({"owner": f"the caller may not act as '{owner.username}'"}) from None


def _owner(tenant: Tenant, username: str) -> User | None:
    users = User.objects.for_tenant(tenant)
    if username:
        owner = users.filter(username=username).first()
        if owner is None:
            raise ValidationError({"owner": f"no user '{username}' in tenant {tenant.domain}"})
        return owner
    # The admin made with the tenant (its row records it): a role's name tells nothing, anyone
    # may rename a role or give one that name.
    return users.filter(pk=tenant.admin_id).first() if tenant.admin_id is not None else None


# What update_client may change, and the model field each name sets.
UPDATABLE = {
    "name": "name",
    "grant_types": "grant_types",
    "scopes": "allowed_scopes",
    "redirect_uris": "redirect_uris",
    "audiences": "audiences",
    "token_format": "token_format",
    "access_token_lifetime": "access_token_lifetime",
    "refresh_token_lifetime": "refresh_token_lifetime",
    "scripts": "introspection_scripts",
    "run_scripts_before_jwt": "run_introspection_script_before_jwt_creation",
    "use_tenant_domain_in_subject": "use_tenant_domain_in_local_subject_identifier",
    "use_user_store_domain_in_subject": "use_user_store_domain_in_local_subject_identifier",
}


@transaction.atomic
def update_client(client: Client, *, actor: str, **changes) -> Client:
    """Change the client's settings named in ``changes`` (keys of ``UPDATABLE``); validate and save."""
    unknown = sorted(set(changes) - set(UPDATABLE))
    if unknown:
        raise ValidationError({name: "cannot be changed" for name in unknown})
    if "scripts" in changes:
        check_scripts(client.tenant, changes["scripts"])
    for name, value in changes.items():
        if name == "redirect_uris":
            value = " ".join(value)
        elif name in ("grant_types", "scopes"):
            value = list(dict.fromkeys(value))
        setattr(client, UPDATABLE[name], value)
    client.full_clean(exclude=["client_secret"])
    client.save()
    audit.record(
        "client.updated",
        actor=actor,
        tenant=client.tenant.domain,
        client_id=client.client_id,
        fields=sorted(changes),
    )
    return client


@transaction.atomic
def rotate_secret(client: Client, *, actor: str, acting_user: User | None = None) -> str:
    """Give a confidential client a new secret; return it in clear (shown once, stored hashed).

    The old secret stops working at once; tokens already issued stay valid. When
    ``acting_user`` is given, it must be allowed to take the owner's powers (``check_may_own``).
    """
    if client.client_type != Client.CLIENT_CONFIDENTIAL:
        raise ValidationError({"client_type": "a public client has no secret"})
    check_may_own(client.user, acting_user)
    secret = generate_client_secret()
    client.client_secret = secret
    client.save()  # the toolkit's ClientSecretField hashes it on save
    audit.record(
        "client.secret_rotated", actor=actor, tenant=client.tenant.domain, client_id=client.client_id
    )
    return secret


# -- Deactivation and deletion: the client's tokens are revoked at once ---------------------


@transaction.atomic
def deactivate_client(client: Client, *, actor: str) -> None:
    """Deactivate ``client``: it can no longer authenticate, and every token it holds is revoked.

    Activating it again revives none of them (docs/token-storage.md).
    """
    client.active = False
    revoked = revoke_client_tokens_quietly(client)
    client.save(update_fields=["active", "updated"])
    audit.record(
        "client.deactivated",
        actor=actor,
        tenant=client.tenant.domain,
        client_id=client.client_id,
        tokens_revoked=revoked,
    )


@transaction.atomic
def activate_client(client: Client, *, actor: str) -> None:
    """Activate ``client`` again."""
    client.active = True
    client.save(update_fields=["active", "updated"])
    audit.record("client.activated", actor=actor, tenant=client.tenant.domain, client_id=client.client_id)


@transaction.atomic
def delete_client(client: Client, *, actor: str) -> None:
    """Delete ``client`` and its tokens, revoking them first (the revocation is what other
    processes hear)."""
    revoked = revoke_client_tokens_quietly(client)
    client_id, domain = client.client_id, client.tenant.domain
    client.delete()
    audit.record("client.deleted", actor=actor, tenant=domain, client_id=client_id, tokens_revoked=revoked)
