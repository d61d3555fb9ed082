"""``tokens``: the tenant's access tokens, without their values (only digests are stored),
filtered by client, user or state; revoke one, or all of a user or a client (RFC 7009)."""

from __future__ import annotations

import django_filters
from django.db.models import Q
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins
from rest_framework.decorators import action
from rest_framework.response import Response

from identity.api import serializers
from identity.api.views.base import TenantViewSet
from identity.models import AccessToken, Client, User
from identity.services import tokens as service

STATES = (("active", "active"), ("revoked", "revoked"), ("expired", "expired"))


class TokenFilter(django_filters.FilterSet):
    client_id = django_filters.CharFilter(field_name="application__client_id")
    user = django_filters.CharFilter(field_name="user__username")
    state = django_filters.ChoiceFilter(choices=STATES, method="filter_state")
    grant_type = django_filters.CharFilter()

    class Meta:
        model = AccessToken
        fields = ["client_id", "user", "state", "grant_type"]

    def filter_state(self, queryset, name, value):
        now = timezone.now()
        if value == "revoked":
            return queryset.filter(revoked__isnull=False)
        if value == "expired":
            return queryset.filter(revoked__isnull=True, expires__lte=now)
        return queryset.filter(Q(revoked__isnull=True) & Q(expires__gt=now))


class TokenViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    resource = "applicationmgt"
    model = AccessToken
    lookup_field = "jti"
    lookup_value_regex = "[0-9a-fA-F-]{32,36}"
    serializer_class = serializers.TokenSerializer
    filterset_class = TokenFilter

    def tenant_queryset(self, tenant):
        return AccessToken.objects.for_tenant(tenant).select_related("application", "user").order_by("-pk")

    @extend_schema(request=None, responses=serializers.TokenSerializer)
    @action(detail=True, methods=["post"], permission_verb="delete")
    def revoke(self, request, jti=None):
        """Revoke the token (and the refresh tokens of its grant)."""
        token = self.get_object()
        service.revoke_token(token, actor=self.actor)
        return Response(self.get_serializer(token).data)

    @extend_schema(request=serializers.RevokeAllSerializer, responses=serializers.RevokedCountSerializer)
    @action(detail=False, methods=["post"], url_path="revoke-all", permission_verb="delete")
    def revoke_all(self, request):
        """Revoke every token of a user or of a client; answer how many were revoked."""
        data = serializers.RevokeAllSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if "user" in data.validated_data:
            user = User.objects.for_tenant(self.tenant).filter(username=data.validated_data["user"]).first()
            if user is None:
                raise exceptions.ValidationError({"user": "no such user in this tenant"})
            count = service.revoke_user_tokens(user, actor=self.actor)
        else:
            client_id = data.validated_data["client_id"]
            client = Client.objects.for_tenant(self.tenant).filter(client_id=client_id).first()
            if client is None:
                raise exceptions.ValidationError({"client_id": "no such client in this tenant"})
            count = service.revoke_client_tokens(client, actor=self.actor)
        return Response({"revoked": count})
