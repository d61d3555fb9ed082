"""WSGI entry point; gunicorn workers import it (``identity.server`` starts them).

Django's application, behind the layer that refuses a blocked address's introspection requests
(``introspection/throttle_gate.py``), behind the layer that replays repeated introspection
answers from the cache (``introspection/replay.py``), which stays outermost: a known caller's
repeated answer is replayed first.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "identity.settings")

django_application = get_wsgi_application()

# Both read models: imported once Django is set up.
from introspection.replay import AnswerReplay  # noqa: E402
from introspection.throttle_gate import ThrottleGate  # noqa: E402
from tenants import changes  # noqa: E402

application = AnswerReplay(ThrottleGate(django_application))

# A server process hears every other process's changes (tenants.changes) from its first request.
changes.start()
