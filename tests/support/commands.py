"""Run a management command in this process the way ``manage.py`` runs it.

``manage(*args)`` goes through Django's own command-line handling (``run_from_argv``: argument
errors, ``CommandError`` written to stderr as ``CommandError: ...`` and turned into the exit
status) and returns what a shell would see, as ``subprocess.run`` does, without the second a new
interpreter loading Django costs. In the test process it works on the test's database, inside
the test's transaction (tests/support/console.py runs it on a server's). A real ``manage.py``
process is still run once each way (a success, a failure) by tests/test_oauth_commands.py.
"""

from __future__ import annotations

import io
import subprocess
from contextlib import redirect_stderr, redirect_stdout
from unittest import mock

from django.core.management import ManagementUtility
from django.db import connections


def manage(*args: str) -> subprocess.CompletedProcess:
    """Run ``manage.py *args`` in this process; return its exit status, stdout and stderr."""
    argv = ["manage.py", *args]
    stdout, stderr = io.StringIO(), io.StringIO()
    returncode = 0
    # run_from_argv closes every connection when the command ends, as a process exits: the
    # test's connection, and its transaction, must outlive the command.
    with redirect_stdout(stdout), redirect_stderr(stderr), mock.patch.object(connections, "close_all"):
        try:
            ManagementUtility(argv).fetch_command(args[0]).run_from_argv(argv)
        except SystemExit as exit_:  # as the interpreter turns it into an exit status
            code = exit_.code
            returncode = 0 if code is None else code if isinstance(code, int) else 1
    return subprocess.CompletedProcess(argv, returncode, stdout.getvalue(), stderr.getvalue())


def assert_failed(done: subprocess.CompletedProcess, message: str) -> None:
    """A non-zero exit status, nothing on stdout, ``message`` on stderr, and no traceback."""
    assert done.returncode != 0
    assert done.stdout == ""
    assert message in done.stderr
    assert "Traceback" not in done.stderr
