"""Small views of the identity app that belong to no protocol."""

from django.http import JsonResponse

from tenants import get_current_tenant


def health(request):
    """Answer 200 with the tenant served, for load balancers and the tests' readiness probe."""
    return JsonResponse({"status": "ok", "tenant": get_current_tenant(request).domain})
