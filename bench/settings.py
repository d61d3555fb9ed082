"""Settings of the server under benchmark: the product's, plus headers naming the worker.

``X-Bench-Worker`` (the worker's pid) and ``X-Bench-Start`` (``time.monotonic()`` when the
request reached the worker) let bench/lag.py tell when each worker began answering a change.
Only ``bench.server`` points ``DJANGO_SETTINGS_MODULE`` here, and it refuses to load without
``IDENTITY_BENCH=1``, so the product never sends these headers.
"""

import os

from django.core.exceptions import ImproperlyConfigured

from identity.settings import *  # noqa: F403 (the product's settings, another application)

if os.environ.get("IDENTITY_BENCH") != "1":
    raise ImproperlyConfigured("bench.settings is for the benchmark server only (python -m bench)")

WSGI_APPLICATION = "bench.worker.application"
