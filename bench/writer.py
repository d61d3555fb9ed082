"""A long-lived writer for bench/lag.py: changes rows through the product's own code.

Reads one JSON command a line on stdin, makes the change (each in its own transaction, so the
change bus announces it at commit), and answers ``{"done": <time.monotonic() after commit>,
...}`` on stdout. ``python -m bench.writer`` with the server's deployment.toml in the
environment.
"""

import json
import os
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "identity.settings")

import django

django.setup()

from identity.models import User  # noqa: E402
from identity.signing import rotate  # noqa: E402
from tenants.models import Tenant  # noqa: E402


def main() -> None:
    for line in sys.stdin:
        command = json.loads(line)
        tenant = Tenant.objects.get(domain=command["tenant"])
        answer: dict = {}
        if command["change"] == "password":
            user = User.objects.for_tenant(tenant).get(username=command["username"])
            user.set_password(command["password"])
            user.save(update_fields=["password"])
        elif command["change"] == "rotate":
            answer["kid"] = rotate(tenant).kid
        answer["done"] = time.monotonic()
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
