"""WSGI entry point; gunicorn workers import it (``identity.server`` starts them).

Django's application, behind the layer that answers a ``Content-Type`` Django cannot read
(``identity.middleware.ContentTypeGuard``), behind the layer that refuses a blocked address's
introspection requests (``introspection/throttle_gate.py``), behind the layer that replays
repeated introspection answers from the cache (``introspection/replay.py``), which stays
outermost: a known caller's repeated answer is replayed first.
"""

import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "identity.settings")

django_application = get_wsgi_application()
# Import the URLconf (the admin, the API and its schema) now, before the worker accepts a
# connection: Django would at the first request, which waited about 0.7 s for it.
get_resolver().url_patterns  # noqa: B018

# Imported once Django is set up (they read the configuration and models).
from identity.middleware import ContentTypeGuard  # noqa: E402
from introspection.replay import AnswerReplay  # noqa: E402
from introspection.throttle_gate import ThrottleGate  # noqa: E402
from tenants import changes  # noqa: E402

application = AnswerReplay(ThrottleGate(ContentTypeGuard(django_application)))

# A server process hears every other process's changes (tenants.changes) from its first request.
changes.start()
