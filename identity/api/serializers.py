"""Serializers of the management API: what each resource looks like in JSON.

Writes go through ``identity.services``; these only shape and validate the input. No
serializer has a field holding a secret or a token value, except the responses that create or
rotate a client secret (shown once).
"""

from __future__ import annotations

from rest_framework import serializers

from identity.models import AccessToken, Client, Role, SigningKey, User
from identity.models.clients import GRANT_TYPES
from tenants.models import Tenant

NAME = serializers.RegexField(r"^[^\s\x00]+$", max_length=100)


def _names(**kwargs):
    return serializers.ListField(child=serializers.RegexField(r"^[^\s\x00]+$", max_length=200), **kwargs)


class ClientSerializer(serializers.Serializer):
    client_id = serializers.RegexField(r"^[A-Za-z0-9._~-]+$", max_length=100, required=False)
    name = serializers.CharField(max_length=255)
    public = serializers.BooleanField(default=False)
    owner = serializers.CharField(max_length=150, required=False, allow_blank=True, write_only=True)
    grant_types = serializers.ListField(child=serializers.ChoiceField(GRANT_TYPES), min_length=1)
    scopes = _names(default=list)
    redirect_uris = serializers.ListField(child=serializers.URLField(max_length=500), default=list)
    audiences = _names(default=list)
    token_format = serializers.ChoiceField(Client.TokenFormat.values, default=Client.TokenFormat.OPAQUE)
    access_token_lifetime = serializers.IntegerField(
        min_value=1, max_value=10**8, required=False, allow_null=True
    )
    refresh_token_lifetime = serializers.IntegerField(
        min_value=1, max_value=10**8, required=False, allow_null=True
    )
    scripts = _names(default=list)
    run_scripts_before_jwt = serializers.BooleanField(default=False)
    use_tenant_domain_in_subject = serializers.BooleanField(default=False)
    use_user_store_domain_in_subject = serializers.BooleanField(default=False)

    def to_representation(self, client: Client) -> dict:
        return {
            "client_id": client.client_id,
            "name": client.name,
            "active": client.active,
            "public": client.client_type == Client.CLIENT_PUBLIC,
            "owner": client.user.username if client.user_id else None,
            "grant_types": list(client.grant_types),
            "scopes": list(client.allowed_scopes),
            "redirect_uris": client.redirect_uris.split(),
            "audiences": list(client.audiences),
            "token_format": client.token_format,
            "access_token_lifetime": client.access_token_lifetime,
            "refresh_token_lifetime": client.refresh_token_lifetime,
            "scripts": list(client.introspection_scripts),
            "run_scripts_before_jwt": client.run_introspection_script_before_jwt_creation,
            "use_tenant_domain_in_subject": client.use_tenant_domain_in_local_subject_identifier,
            "use_user_store_domain_in_subject": client.use_user_store_domain_in_local_subject_identifier,
            "created": client.created.isoformat(),
            "updated": client.updated.isoformat(),
        }


class ClientOutputSerializer(serializers.Serializer):
    """A client as GET shows it (never its secret)."""

    client_id = serializers.CharField()
    name = serializers.CharField()
    active = serializers.BooleanField()
    public = serializers.BooleanField()
    owner = serializers.CharField(allow_null=True)
    grant_types = serializers.ListField(child=serializers.CharField())
    scopes = serializers.ListField(child=serializers.CharField())
    redirect_uris = serializers.ListField(child=serializers.CharField())
    audiences = serializers.ListField(child=serializers.CharField())
    token_format = serializers.CharField()
    access_token_lifetime = serializers.IntegerField(allow_null=True)
    refresh_token_lifetime = serializers.IntegerField(allow_null=True)
    scripts = serializers.ListField(child=serializers.CharField())
    run_scripts_before_jwt = serializers.BooleanField()
    use_tenant_domain_in_subject = serializers.BooleanField()
    use_user_store_domain_in_subject = serializers.BooleanField()
    created = serializers.DateTimeField()
    updated = serializers.DateTimeField()


class ClientWithSecretSerializer(ClientOutputSerializer):
    """A client as created or with its secret rotated: the secret is in this response only."""

    client_secret = serializers.CharField(allow_blank=True)


class ClientSecretSerializer(serializers.Serializer):
    client_id = serializers.CharField()
    client_secret = serializers.CharField()


class RoleSerializer(serializers.ModelSerializer):
    name = serializers.RegexField(r"^[^\x00]+$", max_length=150)
    permissions = serializers.ListField(
        child=serializers.RegexField(r"^/permission(/[A-Za-z0-9_.-]+)*$", max_length=500), default=list
    )

    class Meta:
        model = Role
        fields = ["id", "name", "permissions"]
        read_only_fields = ["id"]


class UserSerializer(serializers.ModelSerializer):
    """A user as the API shows it (never its password hash)."""

    roles = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)
    email = serializers.CharField(read_only=True)  # may be empty, so not format "email"

    class Meta:
        model = User
        fields = ["username", "email", "is_active", "is_locked", "roles", "date_joined"]
        read_only_fields = fields


class UserCreateSerializer(serializers.Serializer):
    username = serializers.RegexField(r"^[^\s\x00/]+$", max_length=150)
    password = serializers.CharField(write_only=True, max_length=1000, trim_whitespace=False)
    email = serializers.EmailField(required=False, allow_blank=True)
    roles = serializers.ListField(child=serializers.CharField(max_length=150), default=list)


class UserRolesSerializer(serializers.Serializer):
    roles = serializers.ListField(child=serializers.CharField(max_length=150))


class PasswordSerializer(serializers.Serializer):
    password = serializers.CharField(max_length=1000, trim_whitespace=False)


class TokenSerializer(serializers.ModelSerializer):
    """An access token's metadata; its value is never stored, so never shown."""

    client_id = serializers.CharField(source="application.client_id", read_only=True)
    user = serializers.CharField(source="user.username", read_only=True, allow_null=True, default=None)
    state = serializers.SerializerMethodField()

    class Meta:
        model = AccessToken
        fields = ["jti", "client_id", "user", "scope", "grant_type", "created", "expires", "revoked", "state"]

    def get_state(self, token: AccessToken) -> str:
        if token.revoked is not None:
            return "revoked"
        return "expired" if token.is_expired() else "active"


class RevokeAllSerializer(serializers.Serializer):
    """Whose tokens to revoke: a user's (by username) or a client's (by client id)."""

    user = serializers.CharField(max_length=150, required=False)
    client_id = serializers.CharField(max_length=100, required=False)

    def validate(self, data: dict) -> dict:
        if len(data) != 1:
            raise serializers.ValidationError("give exactly one of user, client_id")
        return data


class RevokedCountSerializer(serializers.Serializer):
    revoked = serializers.IntegerField()


class KeySerializer(serializers.ModelSerializer):
    """A signing key's public part (RFC 7517 JWK); the private key never leaves the server."""

    jwk = serializers.SerializerMethodField()

    class Meta:
        model = SigningKey
        fields = ["kid", "algorithm", "active", "created", "publish_until", "jwk"]

    def get_jwk(self, key: SigningKey) -> dict:
        return key.public_jwk()


class RotateKeySerializer(serializers.Serializer):
    algorithm = serializers.ChoiceField(SigningKey.Algorithm.values, required=False)


class TenantSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tenant
        fields = ["domain", "name", "active"]
        read_only_fields = ["active"]


class TenantCreateSerializer(serializers.Serializer):
    domain = serializers.RegexField(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$", max_length=253)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    admin_username = serializers.RegexField(r"^[^\s\x00@/]+$", max_length=150)
    admin_password = serializers.CharField(max_length=1000, write_only=True, trim_whitespace=False)
