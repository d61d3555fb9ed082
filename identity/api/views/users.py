"""``users``: users of the tenant: create, lock/unlock, (de)activate, password, roles, delete.

No escalation: a caller may give a user only roles whose permissions it holds, and may act on
a user (lock it, set its password, change its roles, delete it) only when it holds every
permission that user holds, or it could take over an account above its own.
"""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from identity.api import serializers
from identity.api.views.base import TenantViewSet
from identity.models import Role, User
from identity.services import users as service
from identity.services.roles import check_grantable


class UserFilter(django_filters.FilterSet):
    username = django_filters.CharFilter()
    role = django_filters.CharFilter(field_name="roles__name")

    class Meta:
        model = User
        fields = ["username", "is_active", "is_locked", "role"]


def _permissions_of(roles) -> set[str]:
    return {path for role in roles for path in role.permissions}


class UserViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    resource = "usermgt"
    model = User
    lookup_field = "username"
    lookup_value_regex = "[^/]+"
    serializer_class = serializers.UserSerializer
    filterset_class = UserFilter

    def tenant_queryset(self, tenant):
        return User.objects.for_tenant(tenant).prefetch_related("roles").order_by("pk")

    def guarded_object(self, *, taking: bool = False) -> User:
        """Return the user of the path, if the caller may act on it (``taking`` its account:
        its password), as in the admin (``service.check_may_act_on``)."""
        user = self.get_object()
        service.check_may_act_on(user, self.request.user, taking=taking)
        return user

    def _show(self, user: User, code: int = status.HTTP_200_OK) -> Response:
        user = self.tenant_queryset(self.tenant).get(pk=user.pk)  # its roles, fresh
        return Response(serializers.UserSerializer(user).data, status=code)

    @extend_schema(request=serializers.UserCreateSerializer, responses={201: serializers.UserSerializer})
    def create(self, request):
        data = serializers.UserCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        roles = list(Role.objects.for_tenant(self.tenant).filter(name__in=values["roles"]))
        check_grantable(_permissions_of(roles), request.user)
        user = service.create_user(
            self.tenant,
            values["username"],
            values["password"],
            roles=values["roles"],
            email=values.get("email", ""),
            actor=self.actor,
        )
        return self._show(user, status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None})
    def destroy(self, request, username=None):
        service.delete_user(self.guarded_object(), actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _flag(self, change) -> Response:
        user = self.guarded_object()
        change(user, actor=self.actor)
        return self._show(user)

    @extend_schema(request=None, responses=serializers.UserSerializer)
    @action(detail=True, methods=["post"], permission_verb="update")
    def lock(self, request, username=None):
        """Lock the user: it cannot sign in, and its tokens are revoked at once."""
        return self._flag(service.lock_user)

    @extend_schema(request=None, responses=serializers.UserSerializer)
    @action(detail=True, methods=["post"], permission_verb="update")
    def unlock(self, request, username=None):
        """Unlock the user (its revoked tokens stay revoked)."""
        return self._flag(service.unlock_user)

    @extend_schema(request=None, responses=serializers.UserSerializer)
    @action(detail=True, methods=["post"], permission_verb="update")
    def deactivate(self, request, username=None):
        """Deactivate the user: it cannot sign in, and its tokens are revoked at once."""
        return self._flag(service.deactivate_user)

    @extend_schema(request=None, responses=serializers.UserSerializer)
    @action(detail=True, methods=["post"], permission_verb="update")
    def activate(self, request, username=None):
        """Activate the user again (its revoked tokens stay revoked)."""
        return self._flag(service.activate_user)

    @extend_schema(request=serializers.PasswordSerializer, responses={204: None})
    @action(detail=True, methods=["post"], url_path="password", permission_verb="update")
    def set_password(self, request, username=None):
        """Set the user's password."""
        user = self.guarded_object(taking=True)
        # Its own user's too: a token that sets it holds everything the user holds.
        check_grantable(user.permission_paths(), request.user)
        data = serializers.PasswordSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        service.set_password(user, data.validated_data["password"], actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=serializers.UserRolesSerializer, responses=serializers.UserSerializer)
    @action(detail=True, methods=["post"], permission_verb="update")
    def roles(self, request, username=None):
        """Make the given roles exactly the user's roles."""
        user = self.guarded_object()
        data = serializers.UserRolesSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        wanted = list(Role.objects.for_tenant(self.tenant).filter(name__in=data.validated_data["roles"]))
        check_grantable(_permissions_of(wanted), request.user)
        service.set_roles(user, data.validated_data["roles"], actor=self.actor)
        return self._show(user)
