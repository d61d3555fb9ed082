"""Dynamic client registration (RFC 7591) and its management protocol (RFC 7592).

``POST /t/<tenant>/oauth2/register`` creates a client from its metadata and answers its
credentials once, with a registration access token; ``GET``/``PUT``/``DELETE`` at the
``registration_client_uri`` it names read, replace and delete the registration with that
token. The token is stored as its SHA-256 digest only. Registration needs a caller allowed
to create clients (a Bearer token with ``internal_application_mgt_create`` whose user holds
the permission, or such a user with Basic) unless ``[oauth.dcr] open_registration = true``.
See docs/api.md.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from urllib.parse import urlsplit

from django.contrib.auth.hashers import check_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from rest_framework import authentication, exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from deployment.current import get_deployment
from identity import throttle
from identity.api.authentication import BasicUserAuthentication, BearerAuthentication, checked
from identity.api.permissions import (
    CallerOfPathTenant,
    HoldsResourcePermission,
    IsAuthenticatedCaller,
    check_delegable,
)
from identity.models import Client
from identity.models.clients import GRANT_TYPES
from identity.models.tokens import token_checksum
from identity.oauth.issuer import endpoint
from identity.oauth.scopes import is_internal
from identity.services import clients as service
from tenants import get_current_tenant

AUTH_METHODS = ("client_secret_basic", "client_secret_post", "none")
LOOPBACK_HOSTS = ("localhost",)


class RegistrationError(exceptions.APIException):
    """RFC 7591 §3.2.2 error response."""

    status_code = 400
    error = "invalid_client_metadata"

    def __init__(self, description: str):
        super().__init__(description)
        self.description = description


class InvalidRedirectUri(RegistrationError):
    error = "invalid_redirect_uri"


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_redirect_uri(uri: str) -> None:
    """Raise InvalidRedirectUri unless ``uri`` is absolute https (http for a loopback host
    only, RFC 8252 §7.3) with no fragment (RFC 6749 §3.1.2)."""
    try:
        parts = urlsplit(uri)
        host = parts.hostname or ""
    except ValueError:
        raise InvalidRedirectUri(f"not a URI: {uri}") from None
    if parts.fragment or "#" in uri:
        raise InvalidRedirectUri(f"a redirect URI may not have a fragment: {uri}")
    if not host or parts.scheme not in ("https", "http"):
        raise InvalidRedirectUri(f"not an absolute https URI: {uri}")
    if parts.scheme == "http" and not _is_loopback(host):
        raise InvalidRedirectUri(f"http is allowed for loopback hosts only: {uri}")


class MetadataSerializer(serializers.Serializer):
    """RFC 7591 §2 client metadata this server takes, with its defaults."""

    client_name = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    redirect_uris = serializers.ListField(child=serializers.CharField(max_length=500), default=list)
    grant_types = serializers.ListField(child=serializers.CharField(max_length=100), default=None)
    response_types = serializers.ListField(child=serializers.CharField(max_length=100), default=None)
    scope = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    token_endpoint_auth_method = serializers.CharField(max_length=100, default="client_secret_basic")
    token_format = serializers.ChoiceField(Client.TokenFormat.values, default=Client.TokenFormat.OPAQUE)

    def validate(self, data: dict) -> dict:
        for uri in data["redirect_uris"]:
            check_redirect_uri(uri)
        grant_types = data["grant_types"] or ["authorization_code"]  # RFC 7591 §2 default
        response_types = data["response_types"] or (["code"] if "authorization_code" in grant_types else [])
        unknown = sorted(set(grant_types) - set(GRANT_TYPES))
        if unknown:
            raise RegistrationError(
                f"unsupported grant_types {', '.join(unknown)}; use {', '.join(GRANT_TYPES)}"
            )
        if set(response_types) - {"code"}:
            raise RegistrationError("the only response_types supported is code")
        if ("code" in response_types) != ("authorization_code" in grant_types):
            raise RegistrationError(
                "response_types code goes with grant_types authorization_code (RFC 7591 §2.1)"
            )
        if data["token_endpoint_auth_method"] not in AUTH_METHODS:
            raise RegistrationError(f"token_endpoint_auth_method must be one of {', '.join(AUTH_METHODS)}")
        scopes = data["scope"].split()
        if any("\x00" in scope for scope in scopes):
            raise RegistrationError("invalid scope")
        return {**data, "grant_types": grant_types, "response_types": response_types, "scopes": scopes}


def information(client: Client, request, auth_method: str = "client_secret_basic", **extra) -> dict:
    """Return the RFC 7591 §3.2.1 client information of ``client`` (no secret unless in ``extra``)."""
    public = client.client_type == Client.CLIENT_PUBLIC
    body = {
        "client_id": client.client_id,
        "client_id_issued_at": int(client.created.timestamp()),
        "client_name": client.name,
        "redirect_uris": client.redirect_uris.split(),
        "grant_types": list(client.grant_types),
        "response_types": ["code"] if "authorization_code" in client.grant_types else [],
        "scope": " ".join(client.allowed_scopes),
        "token_endpoint_auth_method": "none" if public else auth_method,
        "token_format": client.token_format,
        "registration_client_uri": endpoint(client.tenant, f"/oauth2/register/{client.client_id}", request),
        **extra,
    }
    if not public:
        body["client_secret_expires_at"] = 0  # RFC 7591 §3.2.1: required with a secret; 0 = never
    return body


def _metadata_error(exc: DjangoValidationError) -> RegistrationError:
    """Turn the model's validation of the new client into an RFC 7591 §3.2.2 error."""
    errors = exc.message_dict if hasattr(exc, "error_dict") else {"client": exc.messages}
    text = "; ".join(f"{name}: {' '.join(messages)}" for name, messages in errors.items())
    return InvalidRedirectUri(text) if "redirect_uris" in errors else RegistrationError(text)


def oauth_exception_handler(exc, context):
    """Render errors in RFC 7591 §3.2.2 / RFC 6750 §3.1 form, never cached."""
    headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
    if isinstance(exc, RegistrationError):
        error, description, code = exc.error, exc.description, exc.status_code
    elif isinstance(exc, exceptions.ValidationError):
        fields = exc.detail if isinstance(exc.detail, dict) else {"request": exc.detail}
        error = "invalid_redirect_uri" if "redirect_uris" in fields else "invalid_client_metadata"
        description = "invalid " + ", ".join(str(name) for name in fields)
        code = 400
    elif isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        error, description, code = "invalid_token", "missing or invalid credentials", 401
        headers["WWW-Authenticate"] = getattr(exc, "auth_header", None) or "Bearer"
    elif isinstance(exc, exceptions.PermissionDenied):
        error, description, code = "insufficient_scope", str(exc.detail), 403
    elif isinstance(exc, exceptions.ParseError | exceptions.UnsupportedMediaType):
        error, description, code = "invalid_client_metadata", "the body must be a JSON object", 400
    elif isinstance(exc, exceptions.APIException):
        error, description, code = "invalid_request", str(exc.detail), exc.status_code
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
    else:
        return None
    return Response({"error": error, "error_description": description}, status=code, headers=headers)


class RegistrationEndpointView(APIView):
    """Shared by both endpoints: JSON in and out, OAuth-style errors, no pagination."""

    schema = None  # described by identity.api.schema.add_oauth_endpoints
    resource = "applicationmgt"
    permission_verb = "create"

    def get_exception_handler(self):
        return oauth_exception_handler

    def _metadata(self, request) -> dict:
        if not isinstance(request.data, dict):
            raise RegistrationError("the body must be a JSON object")
        data = MetadataSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return data.validated_data


class RegisterView(RegistrationEndpointView):
    """``POST oauth2/register`` (RFC 7591 §3.1)."""

    authentication_classes = [BearerAuthentication, BasicUserAuthentication]

    def get_permissions(self):
        if get_deployment().oauth.dcr.open_registration:
            return []
        return [IsAuthenticatedCaller(), CallerOfPathTenant(), HoldsResourcePermission()]

    def post(self, request):
        metadata = self._metadata(request)
        check_delegable(request.auth, metadata["scopes"])
        tenant = get_current_tenant(request)
        owner = registering_user(request, tenant)
        public = metadata["token_endpoint_auth_method"] == "none"
        spec = service.ClientSpec(
            name=metadata["client_name"],
            grant_types=metadata["grant_types"],
            public=public,
            scopes=metadata["scopes"],
            redirect_uris=metadata["redirect_uris"],
            token_format=metadata["token_format"],
            owner=owner.username if owner is not None else "",
        )
        registration_token = secrets.token_urlsafe(32)
        actor = request.auth.actor if request.auth is not None else "anonymous"
        with transaction.atomic():
            try:
                client, secret = service.create_client(tenant, spec, actor=actor)
            except DjangoValidationError as exc:
                raise _metadata_error(exc) from None
            client.user = owner  # not the service's default owner (the tenant's admin)
            client.registration_access_token_digest = token_checksum(registration_token)
            client.save(update_fields=["user", "registration_access_token_digest"])
        extra = {"registration_access_token": registration_token}
        if secret:
            extra["client_secret"] = secret
        method = metadata["token_endpoint_auth_method"]
        response = Response(information(client, request, method, **extra), status=status.HTTP_201_CREATED)
        response["Cache-Control"] = "no-store"
        return response


def registering_user(request, tenant):
    """Return the user who owns a client it registers at ``tenant``: the caller, if it is a
    user of ``tenant``. An anonymous registration, or a caller of another tenant (let in by
    open registration or a cross-tenant access-control entry), makes a client owned by no one:
    its app tokens act for no user and carry no ``internal_*`` scope (SPEC §4, §14)."""
    if request.auth is None or request.user.tenant_id != tenant.pk:
        return None
    return request.user


class RegistrationTokenAuthentication(authentication.BaseAuthentication):
    """The registration access token of the client named in the path (RFC 7592 §3)."""

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        # Failed tokens are throttled as every credential is (docs/security.md#throttling).
        attempt = checked(request, throttle.bearer_identity(token.strip()))
        try:
            client = self._client(request, token.strip())
        except exceptions.AuthenticationFailed:
            attempt.failed()
            raise
        attempt.succeeded()
        return None, client

    @staticmethod
    def _client(request, token: str) -> Client:
        client_id = request.parser_context["kwargs"]["client_id"]
        client = (
            Client.objects.for_tenant(get_current_tenant(request))
            .select_related("tenant", "user")
            # A deactivated client authenticates nowhere, with its registration token neither.
            .filter(client_id=client_id, active=True)
            .exclude(registration_access_token_digest="")
            .first()
        )
        # Compare digests in constant time; an unknown client compares against a dummy, so
        # both failures cost the same.
        stored = client.registration_access_token_digest if client is not None else "0" * 64
        if not hmac.compare_digest(stored, token_checksum(token)) or client is None:
            raise exceptions.AuthenticationFailed()
        return client

    def authenticate_header(self, request) -> str:
        return f'Bearer realm="{get_current_tenant(request).domain}"'


class RegistrationClientView(RegistrationEndpointView):
    """``GET``/``PUT``/``DELETE oauth2/register/<client_id>`` (RFC 7592 §2)."""

    authentication_classes = [RegistrationTokenAuthentication]

    def get_permissions(self):
        return [IsRegisteredClient()]

    def get(self, request, client_id: str):
        return Response(information(request.auth, request), headers={"Cache-Control": "no-store"})

    def put(self, request, client_id: str):
        """Replace the metadata (RFC 7592 §2.2); credentials stay as they are."""
        client: Client = request.auth
        for name in ("registration_access_token", "registration_client_uri", "client_id_issued_at"):
            if name in request.data:
                raise RegistrationError(f"{name} may not be sent (RFC 7592 §2.2)")
        if isinstance(request.data, dict) and request.data.get("client_id") != client.client_id:
            raise RegistrationError("client_id must be the registered client's")
        sent_secret = request.data.get("client_secret") if isinstance(request.data, dict) else None
        if sent_secret is not None and not check_password(str(sent_secret), client.client_secret):
            raise RegistrationError("client_secret does not match")
        metadata = self._metadata(request)
        added = sorted(set(filter(is_internal, metadata["scopes"])) - set(client.allowed_scopes))
        if added:
            # The registration access token carries no delegation: the management API adds them.
            raise RegistrationError(f"internal scopes cannot be added here: {', '.join(added)}")
        public = client.client_type == Client.CLIENT_PUBLIC
        if (metadata["token_endpoint_auth_method"] == "none") != public:
            raise RegistrationError("token_endpoint_auth_method cannot change between none and a secret")
        try:
            service.update_client(
                client,
                actor=f"client:{client.client_id}",
                name=metadata["client_name"],
                grant_types=metadata["grant_types"],
                scopes=metadata["scopes"],
                redirect_uris=metadata["redirect_uris"],
                token_format=metadata["token_format"],
            )
        except DjangoValidationError as exc:
            raise _metadata_error(exc) from None
        method = metadata["token_endpoint_auth_method"]
        return Response(information(client, request, method), headers={"Cache-Control": "no-store"})

    def delete(self, request, client_id: str):
        """Delete the client (RFC 7592 §2.3): its credentials and tokens stop working."""
        service.delete_client(request.auth, actor=f"client:{request.auth.client_id}")
        return Response(status=status.HTTP_204_NO_CONTENT, headers={"Cache-Control": "no-store"})


class IsRegisteredClient(IsAuthenticatedCaller):
    """Allow only the holder of the client's registration access token."""
