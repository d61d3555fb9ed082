"""JSON answers for paths under the API that name no resource."""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.views import APIView


class NotFound(APIView):
    """404 problem details for any method on an unknown API path."""

    authentication_classes: list = []
    permission_classes: list = []
    schema = None

    def initial(self, request, *args, **kwargs):
        raise exceptions.NotFound(f"no resource at {request.path}")
