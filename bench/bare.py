"""The ceiling of the benchmark: a bare Django JSON view, served like the product.

Django with only ``SecurityMiddleware`` and ``CommonMiddleware``, no database, no apps: the
least a Django view served by gunicorn's sync workers can cost. Introspection's req/s over this
view's, measured in the same run with the same gunicorn settings, is the ratio reported.
``python -m gunicorn bench.bare:application`` (bench.server.BareServer starts it).
"""

from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def answer(request, anything: str = "") -> JsonResponse:
    """Answer what an inactive introspection answers, reading the form as introspection does."""
    request.POST.get("token")
    response = JsonResponse({"active": False})
    response["Cache-Control"] = "no-store"
    return response


settings.configure(
    DEBUG=False,
    SECRET_KEY="benchmark-only",
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=["django.middleware.security.SecurityMiddleware", "django.middleware.common.CommonMiddleware"],
    INSTALLED_APPS=[],
    DATABASES={},
    USE_TZ=True,
)
urlpatterns = [path("<path:anything>", answer)]
application = get_wsgi_application()
