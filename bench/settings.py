"""Settings of the server under benchmark: the product's, plus the baseline view's URL.

Only ``bench.server`` points ``DJANGO_SETTINGS_MODULE`` here, and it refuses to load without
``IDENTITY_BENCH=1``, so the baseline view is never reachable in the product.
"""

import os

from django.core.exceptions import ImproperlyConfigured

from identity.settings import *  # noqa: F403 (the product's settings, unchanged but for the URLconf)

if os.environ.get("IDENTITY_BENCH") != "1":
    raise ImproperlyConfigured("bench.settings is for the benchmark server only (python -m bench)")

ROOT_URLCONF = "bench.urls"
