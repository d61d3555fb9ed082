"""An operator's console kept open: ``python -m tests.support.console`` runs management commands
(``manage.py shell -c ...`` included) read from stdin, one JSON list of arguments a line, and
answers each with one JSON line: ``{"returncode", "stdout", "stderr"}``.

A command run here is run by another process than the servers, as from a shell, on the
configuration of the environment (``RunningServer.env()``), without the second each new
interpreter loading Django costs (``RunningServer.console()``).
"""

from __future__ import annotations

import json
import sys

import django


def main() -> None:
    django.setup()
    from tenants.cache import cache
    from tests.support.commands import manage

    answers = sys.stdout
    for line in sys.stdin:
        cache.clear()  # nothing remembered from the last command: as a new process starts
        done = manage(*json.loads(line))
        answers.write(
            json.dumps({"returncode": done.returncode, "stdout": done.stdout, "stderr": done.stderr})
        )
        answers.write("\n")
        answers.flush()


if __name__ == "__main__":
    main()
