"""``clients``: OAuth clients of the tenant (RFC 6749 §2)."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from identity.api import serializers
from identity.api.permissions import check_delegable
from identity.api.views.base import TenantViewSet
from identity.models import Client
from identity.services import clients as service


class ClientFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")
    token_format = django_filters.ChoiceFilter(choices=Client.TokenFormat.choices)
    client_type = django_filters.ChoiceFilter(choices=Client.CLIENT_TYPES)

    class Meta:
        model = Client
        fields = ["client_id", "name", "token_format", "client_type"]


def _show(client: Client, secret: str | None = None) -> dict:
    body = serializers.ClientSerializer().to_representation(client)
    if secret is not None:
        body["client_secret"] = secret
    return body


def _with_secret(body: dict, status_code: int = status.HTTP_200_OK) -> Response:
    """An answer holding a client secret in clear: never stored by a cache (``no-store``, as
    RFC 6749 §5.1 asks of token answers and RFC 7591 §3.2.1 of registration answers)."""
    return Response(body, status=status_code, headers={"Cache-Control": "no-store"})


class ClientViewSet(mixins.ListModelMixin, TenantViewSet):
    resource = "applicationmgt"
    lookup_field = "client_id"
    lookup_value_regex = "[^/]+"
    serializer_class = serializers.ClientSerializer
    filterset_class = ClientFilter

    model = Client

    def tenant_queryset(self, tenant):
        return Client.objects.for_tenant(tenant).select_related("user", "tenant").order_by("pk")

    @extend_schema(responses=serializers.ClientOutputSerializer(many=True))
    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response([_show(client) for client in page])

    @extend_schema(responses=serializers.ClientOutputSerializer)
    def retrieve(self, request, client_id=None):
        return Response(_show(self.get_object()))

    @extend_schema(
        request=serializers.ClientSerializer, responses={201: serializers.ClientWithSecretSerializer}
    )
    def create(self, request):
        data = self.get_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        check_delegable(request.auth, values["scopes"])
        values["owner"] = values.get("owner") or self.default_owner()
        spec = service.ClientSpec(**values)
        client, secret = service.create_client(self.tenant, spec, actor=self.actor, acting_user=request.user)
        return _with_secret(_show(client, secret), status.HTTP_201_CREATED)

    def default_owner(self) -> str:
        """Return the owner of a client created without one: the caller (a client's tokens act
        for its owner, and no caller may give more than it holds), or, for a caller of another
        tenant, the service's default, the tenant's admin."""
        caller = self.request.user
        return caller.username if caller.tenant_id == self.tenant.pk else ""

    def guarded_object(self) -> Client:
        """Return the client of the path, if the caller may take its owner's powers: its tokens
        act for the owner, and its redirect URIs receive its users' codes, so changing,
        deactivating or deleting it is acting as the owner, as in the admin (``check_may_own``)."""
        client = self.get_object()
        service.check_may_own(client.user, self.request.user)
        return client

    @extend_schema(request=serializers.ClientSerializer, responses=serializers.ClientOutputSerializer)
    def partial_update(self, request, client_id=None):
        client = self.guarded_object()
        data = self.get_serializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        check_delegable(request.auth, data.validated_data.get("scopes", ()))
        service.update_client(client, actor=self.actor, **data.validated_data)
        return Response(_show(client))

    @extend_schema(request=None, responses={204: None})
    def destroy(self, request, client_id=None):
        service.delete_client(self.guarded_object(), actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses=serializers.ClientSecretSerializer)
    @action(detail=True, methods=["post"], url_path="rotate-secret", permission_verb="update")
    def rotate_secret(self, request, client_id=None):
        """Give the client a new secret, shown in this response only."""
        client = self.get_object()
        check_delegable(request.auth, client.allowed_scopes)
        secret = service.rotate_secret(client, actor=self.actor, acting_user=request.user)
        return _with_secret({"client_id": client.client_id, "client_secret": secret})

    @extend_schema(request=None, responses=serializers.ClientOutputSerializer)
    @action(detail=True, methods=["post"], permission_verb="update")
    def deactivate(self, request, client_id=None):
        """Deactivate the client: its tokens stop working at once, it gets no new ones."""
        client = self.guarded_object()
        service.deactivate_client(client, actor=self.actor)
        return Response(_show(client))

    @extend_schema(request=None, responses=serializers.ClientOutputSerializer)
    @action(detail=True, methods=["post"], permission_verb="update")
    def activate(self, request, client_id=None):
        """Activate the client again (its revoked tokens stay revoked)."""
        client = self.guarded_object()
        service.activate_client(client, actor=self.actor)
        return Response(_show(client))
