"""WSGI entry point; gunicorn workers import it (``identity.server`` starts them)."""

import os

from django.core.wsgi import get_wsgi_application

from tenants import changes

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "identity.settings")

application = get_wsgi_application()

# A server process hears every other process's changes (tenants.changes) from its first request.
changes.start()
