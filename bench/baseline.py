"""The ceiling of SPEC §10: a bare Django view doing one indexed read, served like the endpoint.

It runs in the same project, behind the same middleware and gunicorn workers, and reads one
access token by the digest of the posted ``token``, as introspection does, but authenticates
no caller and builds no claims. Introspection's req/s over this view's is the ratio reported.
"""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from identity.models import AccessToken
from identity.models.tokens import token_checksum


@csrf_exempt
def lookup(request: HttpRequest) -> JsonResponse:
    """Answer whether the posted token exists and is active, from one indexed read."""
    checksum = token_checksum(request.POST.get("token", ""))
    # A slice, as introspection reads it (token_checksum is unique; no ORDER BY to pay for).
    found = AccessToken.objects.all_tenants().only("expires", "revoked").filter(token_checksum=checksum)[:1]
    return JsonResponse({"active": bool(found) and found[0].is_active()})
