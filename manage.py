#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main():
    if sys.argv[1:2] == ["checkdeployment"]:
        # Checked without Django: settings themselves come from the file being checked. Its
        # introspection scripts are imported in a child process, as the server's start-up does.
        from deployment import check_command
        from deployment.reload import script_problem

        sys.exit(check_command(sys.argv[2:], script_problem))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "identity.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
