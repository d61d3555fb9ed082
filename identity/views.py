"""Small views of the identity app that belong to no protocol."""

from django.http import JsonResponse

from tenants import get_current_tenant


def health(request):
    """Answer 200 with the tenant served, for load balancers and the tests' readiness probe."""
    return JsonResponse({"status": "ok", "tenant": get_current_tenant(request).domain})


def not_found(request, exception=None):
    """404 as JSON: the clients of this server are programs."""
    return JsonResponse(
        {"error": "not_found", "error_description": f"no resource at {request.path}"}, status=404
    )


def server_error(request):
    return JsonResponse({"error": "server_error"}, status=500)
